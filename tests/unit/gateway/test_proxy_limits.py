"""The request path with per-key limits: 429 with Retry-After, per key, tokens counted from
the answers' usage; unauthenticated requests never reach the limiter."""

import asyncio
import json

from schemas.events.deployments import RouteTable
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.adapters.route_store import RouteStore
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import ApiKeys
from services.gateway.domain.ratelimit import Limits
from services.gateway.handlers.proxy import Gateway
from tests.unit.gateway.test_proxy import FakeUpstreams, _target, body, header


def limited_gateway(limits: Limits, per_client: dict[str, Limits] | None = None) -> Gateway:
    store = RouteStore()
    store.apply(RouteTable(route="bot", targets=[_target("champ")]), 1)
    limiter = RateLimiter(limits, per_client or {}, None, clock=lambda: 3600.0)
    return Gateway(GatewaySettings(gateway_subscribe=False), store, FakeUpstreams({"champ": "hi"}), None,  # type: ignore[arg-type]
                   InferenceLog(100), ApiKeys.from_config("a:sk-a,b:sk-b", ""), limiter=limiter)


async def test_over_the_request_limit_is_a_429_with_retry_after():
    gw = limited_gateway(Limits(rpm=2))
    statuses = [(await gw.handle("chat", body(), {"authorization": "Bearer sk-a"})).status for _ in range(2)]
    refused = await gw.handle("chat", body(), {"authorization": "Bearer sk-a"})
    assert statuses == [200, 200] and refused.status == 429
    error = json.loads(refused.body)["error"]
    assert error["type"] == "rate_limit_exceeded" and "'a'" in error["message"]
    assert "2 requests per minute" in error["message"]
    assert int(header(refused, "retry-after")) == error["retry_after_s"] >= 1
    assert (await gw.handle("chat", body(), {"authorization": "Bearer sk-b"})).status == 200  # another key


async def test_tokens_of_answers_count_against_the_token_limit():
    gw = limited_gateway(Limits(), {"a": Limits(tpm=5)})  # each answer uses 3 + 2 tokens
    assert (await gw.handle("chat", body(), {"authorization": "Bearer sk-a"})).status == 200
    await asyncio.sleep(0)
    refused = await gw.handle("chat", body(), {"authorization": "Bearer sk-a"})
    assert refused.status == 429 and "5 tokens per minute" in json.loads(refused.body)["error"]["message"]
    assert (await gw.handle("chat", body(), {"authorization": "Bearer sk-b"})).status == 200  # b has no limit


async def test_a_bad_key_is_a_401_before_any_counting():
    gw = limited_gateway(Limits(rpm=1))
    for _ in range(3):
        assert (await gw.handle("chat", body(), {"authorization": "Bearer nope"})).status == 401
    assert (await gw.handle("chat", body(), {"authorization": "Bearer sk-a"})).status == 200
