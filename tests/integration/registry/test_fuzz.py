"""schemathesis against the registry's OpenAPI, with an admin token so writes are exercised:
no input may cause a 5xx, and every 4xx says why (a JSON body with `detail`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.registry.app import bootstrap, create_api
from shared.settings import Settings

HOME = Path(tempfile.mkdtemp(prefix="registry-fuzz-"))
REGISTRY = bootstrap(Settings(home=HOME, DATABASE_URL=f"sqlite:///{HOME / 'registry.db'}"))
AUTH = {"Authorization": f"Bearer {REGISTRY.admin_token}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(REGISTRY))


@schemathesis.check
def four_xx_explains_itself(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("detail"), f"{response.status_code} without a detail: {body}"


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_registry_fail(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error, four_xx_explains_itself])
