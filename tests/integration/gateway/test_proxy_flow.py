"""The gateway against real upstream processes, a real broker and real Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from schemas.events.inference import FeedbackReceived, InferenceLogged
from shared.process import free_port

from .conftest import answer, chat, events, running_gateway, target


async def test_answers_streams_mirrors_logs_and_takes_feedback(broker, upstreams, tmp_path: Path, uid):
    champ, shadow = upstreams("champ"), upstreams("shadow")
    routes = {f"bot-{uid}": {"targets": [target("champ", champ.url)], "shadows": [target("shadow", shadow.url)]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat(f"bot-{uid}", "hello there"))
        assert r.status_code == 200 and answer(r) == "champ says: hello there"
        assert r.headers["x-challenger-target"] == "champ" and r.headers["x-cache"] == "bypass"
        request_id = r.headers["x-request-id"]

        async with gw.stream("POST", "/v1/chat/completions",
                             json=chat(f"bot-{uid}", "stream me", stream=True)) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            raw = b"".join([c async for c in s.aiter_bytes()])
        deltas = [json.loads(line[6:])["choices"] for line in raw.decode().splitlines()
                  if line.startswith("data: {")]
        text = "".join(c[0]["delta"]["content"] for c in deltas if c)
        assert text == "champ says: stream me" and raw.rstrip().endswith(b"data: [DONE]")

        r = await gw.post("/v1/completions", json={"model": f"bot-{uid}", "prompt": "complete"})
        assert r.json()["choices"][0]["text"] == "champ says: complete"

        fb = await gw.post("/v1/feedback", json={"request_id": request_id, "score": -1, "label": "wrong"})
        assert fb.status_code == 202 and fb.json()["route"] == f"bot-{uid}"
        assert (await gw.post("/v1/feedback", json={"request_id": "nope", "score": 1})).status_code == 404
        metrics = (await gw.get("/metrics")).text
        assert f'gateway_ttft_seconds_count{{route="bot-{uid}",target="champ"}}' in metrics
        routes_seen = (await gw.get("/routes")).json()
        assert routes_seen[0]["route"] == f"bot-{uid}" and routes_seen[0]["revision"] == -1
        await asyncio.sleep(0.5)  # shadows finish in the background

    assert shadow.calls() == 3  # every request mirrored, no shadow text returned above
    logged = await events(broker, InferenceLogged.topic,
                          lambda e: e.type == InferenceLogged.event_type and e.data.route == f"bot-{uid}", 6)
    roles = sorted((e.data.role, e.data.candidate_id) for e in logged)
    assert roles == [("primary", "champ")] * 3 + [("shadow", "shadow")] * 3
    streamed = next(e.data for e in logged if e.data.response == "champ says: stream me")
    assert streamed.ttft_ms is not None and streamed.output_tokens == 4
    feedback = await events(broker, FeedbackReceived.topic,
                            lambda e: e.type == FeedbackReceived.event_type and e.data.request_id == request_id, 1)
    assert feedback[0].data.score == -1 and feedback[0].data.label == "wrong"


async def test_upstream_killed_mid_traffic_loses_no_request(broker, upstreams, tmp_path: Path, uid):
    primary, backup = upstreams("primary"), upstreams("backup")
    routes = {"kill": {"targets": [target("primary", primary.url)], "fallbacks": [target("backup", backup.url)]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        served: list[str] = []
        failures: list[str] = []

        async def client(n: int) -> None:
            for i in range(n):
                r = await gw.post("/v1/chat/completions", json=chat("kill", f"req {i}"))
                if r.status_code == 200:
                    served.append(r.headers["x-challenger-target"])
                else:
                    failures.append(f"{r.status_code} {r.text}")

        clients = [asyncio.create_task(client(40)) for _ in range(6)]
        while len(served) < 60:
            await asyncio.sleep(0.01)
        primary.kill()
        await asyncio.gather(*clients)
    assert failures == []
    assert len(served) == 240 and {"primary", "backup"} <= set(served)
    assert served[-1] == "backup"


async def test_stream_falls_back_before_the_first_byte(broker, upstreams, tmp_path: Path):
    backup = upstreams("backup")
    dead = f"http://127.0.0.1:{free_port()}"
    routes = {"s": {"targets": [target("dead", dead)], "fallbacks": [target("backup", backup.url)]},
              "lonely": {"targets": [target("dead", dead)]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        async with gw.stream("POST", "/v1/chat/completions", json=chat("s", "x", stream=True)) as s:
            body = b"".join([c async for c in s.aiter_bytes()])
            assert s.status_code == 200 and s.headers["x-challenger-target"] == "backup" and b"model-backup" in body
        r = await gw.post("/v1/chat/completions", json=chat("lonely", "x"))
        assert r.status_code == 503 and r.json()["error"]["type"] == "upstream_unavailable"
        assert "dead" in r.json()["error"]["attempts"][0]


async def test_api_keys_and_unknown_routes(broker, upstreams, tmp_path: Path):
    up = upstreams("a")
    async with running_gateway(broker, tmp_path, {"r": {"targets": [target("a", up.url)]}},
                               gateway_api_keys="team-a:sk-alpha") as gw:
        r = await gw.post("/v1/chat/completions", json=chat("r", "x"))
        assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
        auth = {"authorization": "Bearer sk-alpha"}
        assert (await gw.post("/v1/chat/completions", json=chat("r", "x"), headers=auth)).status_code == 200
        r = await gw.post("/v1/chat/completions", json=chat("nope", "x"), headers=auth)
        assert r.status_code == 404 and r.json()["error"]["routes"] == ["r"]
        assert (await gw.get("/routes")).status_code == 401
        assert (await gw.get("/routes", headers=auth)).status_code == 200


async def test_a_slow_upstream_times_out_into_the_fallback(broker, upstreams, tmp_path: Path):
    slow, fast = upstreams("slow", "--delay-s", "3"), upstreams("fast")
    routes = {"t": {"targets": [target("slow", slow.url)], "fallbacks": [target("fast", fast.url)], "timeout_s": 0.5}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat("t", "quick please"))
        assert r.status_code == 200 and r.headers["x-challenger-target"] == "fast"
        metrics = (await gw.get("/metrics")).text
        assert 'gateway_upstream_errors_total{kind="timeout",route="t",target="slow"}' in metrics


@pytest.mark.models
async def test_a_real_llama_cpp_model_behind_the_gateway(broker, smollm2_url, tmp_path: Path):
    routes = {"real": {"targets": [{"candidate_id": "smollm2", "url": smollm2_url, "model": "smollm2"}]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat("real", "Say hello.", max_tokens=8, temperature=0))
        assert r.status_code == 200 and answer(r).strip() and r.json()["usage"]["completion_tokens"] > 0
        async with gw.stream("POST", "/v1/chat/completions",
                             json=chat("real", "Say hello.", max_tokens=8, stream=True)) as s:
            raw = b"".join([c async for c in s.aiter_bytes()])
        assert s.status_code == 200 and raw.count(b"data: ") >= 2 and b"[DONE]" in raw


async def test_a_streamed_answer_that_is_not_json_falls_back_on_a_json_route(broker, upstreams, tmp_path: Path):
    prose, good = upstreams("prose", "--answer", "not json at all"), upstreams("good", "--answer", '{"ok": true}')
    routes = {"j": {"targets": [target("prose", prose.url)], "fallbacks": [target("good", good.url)],
                    "require_json": True}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        async with gw.stream("POST", "/v1/chat/completions", json=chat("j", "give json", stream=True)) as s:
            raw = b"".join([c async for c in s.aiter_bytes()])
        assert s.status_code == 200 and s.headers["x-challenger-target"] == "good"
        assert b"not json" not in raw and raw.rstrip().endswith(b"[DONE]")


async def test_the_broker_dying_does_not_fail_user_requests(upstreams, tmp_path: Path):
    from challenger.stack.broker import broker_proc

    up = upstreams("a")
    proc = broker_proc(tmp_path, free_port())
    proc.start()
    try:
        proc.wait_healthy()
        async with running_gateway(proc.url, tmp_path, {"k": {"targets": [target("a", up.url)]}}) as gw:
            for i in range(10):
                assert (await gw.post("/v1/chat/completions", json=chat("k", f"before {i}"))).status_code == 200
            proc.stop()
            async with asyncio.timeout(30):  # a guard, not a measurement
                for i in range(50):
                    r = await gw.post("/v1/chat/completions", json=chat("k", f"after {i}"))
                    assert r.status_code == 200 and answer(r) == f"a says: after {i}"
    finally:
        proc.stop()
