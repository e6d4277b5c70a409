"""The request path with fake adapters (no I/O): what reaches the client and what does not."""

import json

import pytest

from schemas.events.deployments import RouteTable, RouteTarget
from services.gateway.adapters.cache import CacheUnavailable
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.route_store import RouteStore
from services.gateway.adapters.upstream import UpstreamError, UpstreamReply
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import ApiKeys
from services.gateway.handlers.proxy import Gateway


def _target(cid: str, weight: float = 1.0) -> RouteTarget:
    return RouteTarget(candidate_id=cid, url=f"http://{cid}", model=f"model-{cid}", weight=weight)


def _chat(text: str) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode()


class FakeUpstreams:
    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict]] = []

    async def call(self, target, kind, body, meta, timeout_s=None):
        self.calls.append((target.candidate_id, json.loads(body)))
        answer = self.answers[target.candidate_id]
        if isinstance(answer, Exception):
            raise answer
        return UpstreamReply(200, _chat(answer), "application/json")


class FakeCache:
    def __init__(self, down: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.down = down

    async def get(self, key):
        if self.down:
            raise CacheUnavailable()
        return self.data.get(key)

    async def put(self, key, value, ttl_s):
        self.data[key] = value


def make_gateway(table: RouteTable, answers, *, cache=None, keys="", queue=100):
    store = RouteStore()
    store.apply(table, 1)
    upstreams = FakeUpstreams(answers)
    gw = Gateway(GatewaySettings(gateway_subscribe=False), store, upstreams, cache, InferenceLog(queue),  # type: ignore[arg-type]
                 ApiKeys.from_config(keys, ""))
    return gw, upstreams


def body(text="hello", **extra) -> bytes:
    return json.dumps({"model": "bot", "messages": [{"role": "user", "content": text}], **extra}).encode()


def content(reply) -> str:
    return json.loads(reply.body)["choices"][0]["message"]["content"]


def header(reply, name: str) -> str | None:
    return dict(reply.headers).get(name.encode(), b"").decode() or None


async def test_shadow_answers_are_never_returned():
    table = RouteTable(route="bot", targets=[_target("champ")], shadows=[_target("shadow")])
    gw, ups = make_gateway(table, {"champ": "champion answer", "shadow": "SHADOW SECRET"})
    for _ in range(20):
        reply = await gw.handle("chat", body(), {})
        assert reply.status == 200 and content(reply) == "champion answer"
        assert "SHADOW" not in reply.body.decode() and header(reply, "x-challenger-target") == "champ"
    await gw.close()
    assert sum(1 for cid, _ in ups.calls if cid == "shadow") == 20  # mirrored, just never returned
    assert all(b["stream"] is False for cid, b in ups.calls if cid == "shadow")


async def test_error_falls_back_to_the_next_target():
    table = RouteTable(route="bot", targets=[_target("a")], fallbacks=[_target("b")])
    gw, _ = make_gateway(table, {"a": UpstreamError("connection", "refused"), "b": "from b"})
    reply = await gw.handle("chat", body(), {})
    assert reply.status == 200 and content(reply) == "from b" and header(reply, "x-challenger-target") == "b"


async def test_no_target_left_gives_503_with_the_attempts():
    table = RouteTable(route="bot", targets=[_target("a")], fallbacks=[_target("b")])
    gw, _ = make_gateway(table, {"a": UpstreamError("timeout", "slow"), "b": UpstreamError("connection", "down")})
    reply = await gw.handle("chat", body(), {})
    err = json.loads(reply.body)["error"]
    assert reply.status == 503 and err["type"] == "upstream_unavailable" and len(err["attempts"]) == 2


async def test_failed_output_guardrail_falls_back_and_is_never_cached():
    table = RouteTable(route="bot", targets=[_target("a")], fallbacks=[_target("b")], require_json=True,
                       cache_ttl_s=60)
    cache = FakeCache()
    gw, _ = make_gateway(table, {"a": "not json", "b": '{"ok": 1}'}, cache=cache)
    reply = await gw.handle("chat", body(temperature=0), {})
    assert reply.status == 200 and content(reply) == '{"ok": 1}'
    await gw.close()
    assert cache.data == {}  # b answered for a's key: never stored across candidates; a's answer failed


async def test_every_answer_rejected_by_the_output_guardrail_gives_502_not_503():
    """The upstreams are up and answered; what they said is unusable: a bad gateway, not an
    unavailable one. One unreachable target among them makes it 503 again."""
    table = RouteTable(route="bot", targets=[_target("a")], fallbacks=[_target("b")], require_json=True)
    gw, _ = make_gateway(table, {"a": "not json", "b": "nor this"})
    reply = await gw.handle("chat", body(temperature=0), {})
    err = json.loads(reply.body)["error"]
    assert reply.status == 502 and err["type"] == "upstream_answer_rejected" and len(err["attempts"]) == 2
    assert "output guardrail" in err["message"]
    gw, _ = make_gateway(table, {"a": "not json", "b": UpstreamError("connection", "down")})
    assert (await gw.handle("chat", body(temperature=0), {})).status == 503


async def test_deterministic_answer_is_cached_for_its_candidate_only():
    table = RouteTable(route="bot", targets=[_target("a")], cache_ttl_s=60)
    cache = FakeCache()
    gw, ups = make_gateway(table, {"a": "cached answer"}, cache=cache)
    first = await gw.handle("chat", body(temperature=0), {})
    await gw.close()
    second = await gw.handle("chat", body(temperature=0), {})
    assert (header(first, "x-cache"), header(second, "x-cache")) == ("miss", "hit")
    assert content(second) == "cached answer" and len(ups.calls) == 1
    hot = await gw.handle("chat", body(temperature=0.9), {})
    assert header(hot, "x-cache") == "bypass" and len(ups.calls) == 2


async def test_cache_down_means_bypass_not_error():
    table = RouteTable(route="bot", targets=[_target("a")], cache_ttl_s=60)
    gw, _ = make_gateway(table, {"a": "ok"}, cache=FakeCache(down=True))
    reply = await gw.handle("chat", body(temperature=0), {})
    assert reply.status == 200 and header(reply, "x-cache") == "bypass"


async def test_input_pii_is_redacted_before_it_leaves():
    gw, ups = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"})
    await gw.handle("chat", body("my card is 4111 1111 1111 1111"), {})
    sent = ups.calls[0][1]["messages"][0]["content"]
    assert "4111" not in sent and "[REDACTED_CREDIT_CARD]" in sent
    assert ups.calls[0][1]["model"] == "model-a"


async def test_blocked_input_never_reaches_upstream():
    table = RouteTable(route="bot", targets=[_target("a")], blocked_topics=["weapons"])
    gw, ups = make_gateway(table, {"a": "ok"})
    reply = await gw.handle("chat", body("build weapons"), {})
    assert reply.status == 400 and json.loads(reply.body)["error"]["guardrail"] == "blocked_topic"
    assert ups.calls == []


@pytest.mark.parametrize(("raw", "headers", "status", "kind"), [
    (body(), {}, 401, "authentication_error"),
    (body(), {"authorization": "Bearer wrong"}, 401, "authentication_error"),
    (b"{not json", {"authorization": "Bearer k1"}, 400, "invalid_request_error"),
    (json.dumps({"model": "bot"}).encode(), {"authorization": "Bearer k1"}, 400, "invalid_request_error"),
    (json.dumps({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).encode(),
     {"authorization": "Bearer k1"}, 404, "route_not_found"),
])
async def test_client_errors(raw, headers, status, kind):
    gw, ups = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"}, keys="team:k1")
    reply = await gw.handle("chat", raw, headers)
    assert reply.status == status and json.loads(reply.body)["error"]["type"] == kind
    assert ups.calls == []


async def test_unknown_route_lists_the_routes():
    gw, _ = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"})
    body = {"model": "x", "messages": [{"role": "user", "content": "y"}]}
    reply = await gw.handle("chat", json.dumps(body).encode(), {})
    assert json.loads(reply.body)["error"]["routes"] == ["bot"]


async def test_a_full_log_queue_drops_and_counts_instead_of_waiting():
    gw, _ = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"}, queue=2)
    for _ in range(5):
        assert (await gw.handle("chat", body(), {})).status == 200
    assert gw.log.dropped == 3


async def test_sticky_header_pins_the_target():
    table = RouteTable(route="bot", targets=[_target("a"), _target("b")], sticky_key="X-User-Id")
    gw, _ = make_gateway(table, {"a": "from a", "b": "from b"})
    served = {header(await gw.handle("chat", body(), {"x-user-id": "u42"}), "x-challenger-target")
              for _ in range(20)}
    assert len(served) == 1


async def test_messages_without_content_pass_through_unchanged():
    gw, ups = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"})
    raw = json.dumps({"model": "bot", "messages": [{"role": "assistant", "tool_calls": []},
                                                   {"role": "user", "content": [{"type": "text", "text": "a@b.io"}]}]})
    assert (await gw.handle("chat", raw.encode(), {})).status == 200
    sent = ups.calls[0][1]["messages"]
    assert sent[0] == {"role": "assistant", "tool_calls": []}
    assert sent[1]["content"][0]["text"] == "[REDACTED_EMAIL]"
