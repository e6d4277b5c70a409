"""schemathesis against the registry's OpenAPI, with an admin token so writes are exercised:
no input may cause a 5xx, and every 4xx says why (tests/fuzzing.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis

from services.registry.bootstrap import bootstrap
from services.registry.entrypoints.http import create_api
from shared.settings import Settings
from tests.fuzzing import CHECKS, fuzz_settings

HOME = Path(tempfile.mkdtemp(prefix="registry-fuzz-"))
REGISTRY = bootstrap(Settings(home=HOME, DATABASE_URL=f"sqlite:///{HOME / 'registry.db'}"))
AUTH = {"Authorization": f"Bearer {REGISTRY.admin_token}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(REGISTRY))


@schema.parametrize()
@fuzz_settings()
def test_no_input_makes_the_registry_fail(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)
