"""schemathesis against the gateway's OpenAPI, on a real gateway process with a real
(scripted) upstream behind its routes, API keys on: no input may cause a 5xx, and every 4xx
says why (tests/fuzzing.py). The proxied endpoints are in the document with their request
bodies (services/gateway/openapi.py), and the fuzzer's `model` is aimed at a real route, so
the bodies it generates go all the way upstream and back, streamed or not."""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis

from services.gateway.config import GatewaySettings
from services.gateway.entrypoints.http import create_app
from tests.fuzzing import CHECKS, fuzz_settings
from tests.support.scripted_llm import start_scripted_llm

from .conftest import Upstream
from .processes import gateway_process

KEY = "sk-fuzz"
HEADERS = {"Authorization": f"Bearer {KEY}", "x-user-id": "fuzzer"}
ROUTES = ("fuzz", "fuzz-json")


def _target(cid: str, url: str, weight: float = 1.0) -> dict[str, object]:
    return {"candidate_id": cid, "url": url, "model": "scripted", "weight": weight}


@pytest.fixture(scope="module")
def gateway_url(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("gateway-fuzz")
    # a fixed answer length: a fuzzed max_tokens must not make the fake generate for hours
    # and a JSON route needs an upstream that answers JSON (else every answer fails its guardrail)
    json_upstream = Upstream("json", "--answer", '{"ok": true}')
    try:
        with start_scripted_llm(ttft_ms=0, itl_ms=0, output_tokens=4) as up, \
                start_scripted_llm(ttft_ms=0, itl_ms=0, output_tokens=4) as backup:
            routes = {
                "fuzz": {"targets": [_target("champ", up.url, 3), _target("canary", up.url, 1)],
                         "fallbacks": [_target("backup", backup.url)], "sticky_key": "x-user-id",
                         "cache_ttl_s": 60, "max_input_tokens": 4000, "blocked_topics": ["weapons"]},
                "fuzz-json": {"targets": [_target("champ", json_upstream.url)],
                              "fallbacks": [_target("backup", backup.url)], "require_json": True},
            }
            with gateway_process(broker, home, routes, API_KEYS=f"fuzzer:{KEY}") as url:
                yield url
    finally:
        json_upstream.kill()


# The document does not depend on the routes or the process, so it is read from the app at
# collection time (schemathesis' pytest.from_fixture does not run under pytest 9); the test
# below checks that the running process serves this very document.
DOCUMENT = create_app(GatewaySettings(home=Path(tempfile.mkdtemp(prefix="gateway-fuzz-")), gateway_subscribe=False,
                                     gateway_api_keys=f"fuzzer:{KEY}")).app.openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def aim_at_a_route(case: schemathesis.Case) -> None:
    """A random `model` only ever meets the 404; most bodies should reach an upstream."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = ROUTES[zlib.crc32(repr(sorted(body)).encode()) % len(ROUTES)]


@schema.parametrize()
@fuzz_settings(max_examples=40)
def test_no_input_makes_the_gateway_fail(case: schemathesis.Case, gateway_url: str) -> None:
    aim_at_a_route(case)
    case.call_and_validate(base_url=gateway_url, headers=HEADERS, checks=CHECKS)


def test_the_process_serves_a_document_with_the_proxied_endpoints(gateway_url: str) -> None:
    served = httpx.get(f"{gateway_url}/openapi.json").json()
    assert served == DOCUMENT
    paths = served["paths"]
    assert {"/v1/chat/completions", "/v1/completions", "/v1/feedback", "/v1/models", "/routes", "/health",
            "/metrics"} <= set(paths)
    chat = paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert chat["required"] == ["model", "messages"] and "stream" in chat["properties"]
