"""The request path with a target's serving profile (fake adapters, no I/O): the upstream gets
the evaluator's prompt, the client gets the post-processed answer, a failing profile falls back."""

import json

from schemas.candidate import Decoding, ProcessingStep
from schemas.events.deployments import RouteTable, RouteTarget, ServingProfile
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.route_store import RouteStore
from services.gateway.adapters.upstream import UpstreamReply
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import ApiKeys
from services.gateway.domain.caching import cache_key
from services.gateway.handlers.proxy import Gateway

LABELS = ProcessingStep(op="label_map", args={"map": {"positive": "positive", "negative": "negative"}})
PROFILE = ServingProfile(prompt_template="Review: {input}\nSentiment:", system_prompt="Be terse.", postprocess=[LABELS])


def _target(cid: str, serving: ServingProfile | None = None) -> RouteTarget:
    return RouteTarget(candidate_id=cid, url=f"http://{cid}", model=f"model-{cid}", serving=serving)


class KindAwareUpstreams:
    """Answers in the shape of the API called; records (target, kind, body)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict]] = []

    async def call(self, target, kind, body, meta, timeout_s=None):
        self.calls.append((target.candidate_id, kind, json.loads(body)))
        text = self.answers[target.candidate_id]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}} if kind == "chat" \
            else {"index": 0, "text": text}
        data = {"id": "x", "choices": [{**choice, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
        return UpstreamReply(200, json.dumps(data).encode(), "application/json")


def make(table: RouteTable, answers: dict[str, str]):
    store = RouteStore()
    store.apply(table, 1)
    ups = KindAwareUpstreams(answers)
    gw = Gateway(GatewaySettings(gateway_subscribe=False), store, ups, None, InferenceLog(100),  # type: ignore[arg-type]
                 ApiKeys.from_config("", ""))
    return gw, ups


def body(text: str, **extra) -> bytes:
    return json.dumps({"model": "bot", "messages": [{"role": "user", "content": text}], **extra}).encode()


def logged(gw: Gateway) -> list:
    queue = gw.log._queue  # noqa: SLF001 - what the gateway would publish
    return [queue.get_nowait()() for _ in range(queue.qsize())]  # each entry builds its event


async def test_the_target_gets_its_prompt_and_the_client_the_mapped_label():
    gw, ups = make(RouteTable(route="bot", targets=[_target("cand", PROFILE)]), {"cand": " Positive!\nReview:"})
    reply = await gw.handle("chat", body("works great"), {})
    assert reply.status == 200 and json.loads(reply.body)["choices"][0]["message"]["content"] == "positive"
    _, kind, sent = ups.calls[0]
    assert kind == "chat" and sent["messages"] == [{"role": "system", "content": "Be terse."},
                                                   {"role": "user", "content": "Review: works great\nSentiment:"}]
    [event] = logged(gw)
    assert (event.prompt, event.response, event.candidate_id) == ("works great", "positive", "cand")


async def test_a_completion_style_target_is_called_through_the_completion_api():
    profile = PROFILE.model_copy(update={"prompt_style": "completion"})
    gw, ups = make(RouteTable(route="bot", targets=[_target("base", profile)]), {"base": " negative\n"})
    reply = await gw.handle("chat", body("broke at once"), {})
    data = json.loads(reply.body)
    assert data["object"] == "chat.completion" and data["choices"][0]["message"]["content"] == "negative"
    assert ups.calls[0][1] == "completions"
    assert ups.calls[0][2]["prompt"] == "Be terse.\n\nReview: broke at once\nSentiment:"


async def test_a_post_processed_stream_is_read_whole_and_replayed():
    gw, ups = make(RouteTable(route="bot", targets=[_target("cand", PROFILE)]), {"cand": "negative, sadly"})
    reply = await gw.handle("chat", body("meh", stream=True, stream_options={"include_usage": True}), {})
    raw = b"".join([chunk async for chunk in reply.stream])  # type: ignore[union-attr]
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]
    assert events[0]["choices"][0]["delta"]["content"] == "negative" and raw.endswith(b"data: [DONE]\n\n")
    assert ups.calls[0][2]["stream"] is False and "stream_options" not in ups.calls[0][2]
    [event] = logged(gw)
    assert event.response == "negative" and event.output_tokens == 2


async def test_a_profile_that_cannot_apply_falls_back_then_says_why():
    broken = ServingProfile(prompt_template="{input} {labels}")
    table = RouteTable(route="bot", targets=[_target("cand", broken)], fallbacks=[_target("champ")])
    gw, ups = make(table, {"cand": "x", "champ": "from champ"})
    reply = await gw.handle("chat", body("hi"), {})
    assert reply.status == 200 and json.loads(reply.body)["choices"][0]["message"]["content"] == "from champ"
    assert [cid for cid, *_ in ups.calls] == ["champ"]

    alone, _ = make(RouteTable(route="bot", targets=[_target("cand", broken)]), {"cand": "x"})
    reply = await alone.handle("chat", body("hi"), {})
    err = json.loads(reply.body)["error"]
    assert reply.status == 503 and "template field 'labels'" in err["message"]
    assert "serving profile of cand" in err["attempts"][0]


async def test_shadows_are_served_with_their_own_profile():
    table = RouteTable(route="bot", targets=[_target("champ")], shadows=[_target("cand", PROFILE)])
    gw, ups = make(table, {"champ": "ok", "cand": "positive"})
    await gw.handle("chat", body("fine"), {})
    await gw.close()
    shadow = next(sent for cid, _, sent in ups.calls if cid == "cand")
    assert shadow["messages"][-1]["content"] == "Review: fine\nSentiment:" and shadow["stream"] is False
    assert {e.role: e.response for e in logged(gw)} == {"primary": "ok", "shadow": "positive"}


def test_the_cache_key_covers_the_serving_profile():
    request = {"model": "bot", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    keys = {cache_key("p:", "chat", "bot", _target("a", profile), request)
            for profile in (None, PROFILE, PROFILE.model_copy(update={"postprocess": []}))}
    assert len(keys) == 3


async def test_a_request_made_greedy_by_the_targets_decoding_is_cached():
    from tests.unit.gateway.test_proxy import FakeCache

    greedy = PROFILE.model_copy(update={"decoding": Decoding(temperature=0.0)})
    store = RouteStore()
    store.apply(RouteTable(route="bot", targets=[_target("cand", greedy)], cache_ttl_s=60), 1)
    ups = KindAwareUpstreams({"cand": "positive"})
    gw = Gateway(GatewaySettings(gateway_subscribe=False), store, ups, FakeCache(), InferenceLog(100),  # type: ignore[arg-type]
                 ApiKeys.from_config("", ""))
    await gw.handle("chat", body("nice"), {})  # no temperature sent
    await gw.close()  # the answer is stored in the background
    second = await gw.handle("chat", body("nice"), {})
    assert dict(second.headers)[b"x-cache"] == b"hit" and len(ups.calls) == 1
    assert json.loads(second.body)["choices"][0]["message"]["content"] == "positive"
