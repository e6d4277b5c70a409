"""The CLI's tests run against the registry's real HTTP server (the registry tests' fixture)."""

from tests.integration.registry.conftest import served  # noqa: F401
