"""The one engine client against a local test double: its retry loop, its error kinds, the
purpose header, and streams read with the one SSE parser."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from shared.engines.client import EngineClient
from shared.engines.factory import protocol_for
from shared.engines.retry import RetryPolicy
from shared.engines.types import EngineError, GenerationRequest

CHAT = GenerationRequest(messages=[{"role": "user", "content": "hi"}])
ANSWER = {"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
FAST = RetryPolicy(retries=2, base_delay_s=0.0)

Handler = Callable[[web.Request], "asyncio.Future[web.StreamResponse] | web.StreamResponse"]


class Double:
    """A server that answers the n-th request with `script[n]` (the last one repeats)."""

    def __init__(self, *script: Handler) -> None:
        self.script, self.seen, self.bodies = script, [], []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        self.bodies.append(await request.read())
        reply = self.script[min(len(self.seen), len(self.script)) - 1](request)
        return await reply if asyncio.iscoroutine(reply) else reply


def status(code: int) -> Handler:
    return lambda _r: web.Response(status=code, text=f"status {code}")


def ok(_r: web.Request) -> web.Response:
    return web.json_response(ANSWER)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Double], asyncio.Future[str]]]:
    runners: list[web.AppRunner] = []

    async def start(double: Double) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", double)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"  # type: ignore[union-attr]

    yield start  # type: ignore[misc]
    for runner in runners:
        await runner.cleanup()


async def call(url: str, retry: RetryPolicy = FAST, **kwargs: object) -> object:
    async with EngineClient(url, "m", retry=retry, **kwargs) as client:  # type: ignore[arg-type]
        return await client.generate(CHAT)


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
async def test_rate_limits_and_server_errors_are_retried(serve, code):
    double = Double(status(code), status(code), ok)
    gen = await call(await serve(double))
    assert gen.text == "ok" and (gen.input_tokens, gen.output_tokens) == (3, 1)  # type: ignore[attr-defined]
    assert len(double.seen) == 3


async def test_the_last_error_is_raised_once_the_retries_are_spent(serve):
    double = Double(status(503))
    with pytest.raises(EngineError) as err:
        await call(await serve(double))
    assert (err.value.kind, err.value.status, len(double.seen)) == ("http", 503, 3)


@pytest.mark.parametrize("code", [400, 401, 404, 422])
async def test_the_requests_own_faults_are_not_retried(serve, code):
    double = Double(status(code), ok)
    with pytest.raises(EngineError) as err:
        await call(await serve(double))
    assert (err.value.kind, err.value.status, len(double.seen)) == ("http", code, 1)


async def test_an_answer_that_is_not_json_is_a_protocol_error_and_not_retried(serve):
    double = Double(lambda _r: web.Response(text="<html>"), ok)
    with pytest.raises(EngineError) as err:
        await call(await serve(double))
    assert (err.value.kind, len(double.seen)) == ("protocol", 1)


async def test_a_refused_connection_is_retried_then_a_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    start = time.perf_counter()
    with pytest.raises(EngineError) as err:
        await call(f"http://127.0.0.1:{port}", RetryPolicy(retries=2, base_delay_s=0.05))
    assert err.value.kind == "connect"
    assert time.perf_counter() - start >= 0.05 + 0.1  # it waited the backoff before each retry


async def test_a_call_that_outlives_the_timeout_is_a_timeout_error(serve):
    async def slow(_r: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response(ANSWER)

    double = Double(slow)
    with pytest.raises(EngineError) as err:
        await call(await serve(double), RetryPolicy(retries=1, base_delay_s=0.0), timeout_s=0.2)
    assert (err.value.kind, len(double.seen)) == ("timeout", 2)


async def test_purpose_header_and_auth_go_out(serve, monkeypatch):
    monkeypatch.setenv("ENGINE_TEST_KEY", "k1")
    double = Double(ok)
    async with EngineClient(await serve(double), "m", api_key_env="ENGINE_TEST_KEY") as client:
        await client.generate(CHAT, purpose="redteam")
        await client.generate(CHAT)
    assert [r.headers.get("x-challenger-purpose") for r in double.seen] == ["redteam", None]
    assert {r.headers.get("Authorization") for r in double.seen} == {"Bearer k1"}


def sse_reply(*events: bytes) -> Handler:
    async def reply(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events:
            await resp.write(event)
        return resp
    return reply


def data(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def test_an_openai_stream_yields_its_deltas(serve):
    double = Double(sse_reply(b": keep-alive\n\n", data({"choices": [{"delta": {"role": "assistant"}}]}),
                              data({"choices": [{"delta": {"content": "he"}}]})[:9],
                              data({"choices": [{"delta": {"content": "he"}}]})[9:],
                              data({"choices": [{"delta": {"content": "llo"}}]}),
                              data({"choices": [], "usage": {"completion_tokens": 2}}), b"data: [DONE]\n\n"))
    async with EngineClient(await serve(double), "m") as client:
        assert [d async for d in client.stream(CHAT)] == ["he", "llo"]
    assert json.loads(double.bodies[0])["stream"] is True


async def test_an_sglang_stream_turns_cumulative_text_into_deltas(serve):
    double = Double(sse_reply(data({"text": "a"}), data({"text": "a b"}), data({"text": "a b c"}),
                              b"data: [DONE]\n\n"))
    async with EngineClient(await serve(double), "m", protocol=protocol_for("sglang")) as client:
        assert [d async for d in client.stream(GenerationRequest(prompt="x"))] == ["a", " b", " c"]
    assert double.seen[0].path == "/generate"


async def test_a_malformed_stream_event_is_a_protocol_error(serve):
    double = Double(sse_reply(data({"choices": [{"delta": {"content": "a"}}]}), b'data: {"choices": [\n\n'))
    async with EngineClient(await serve(double), "m") as client:
        with pytest.raises(EngineError) as err:
            [d async for d in client.stream(CHAT)]
    assert err.value.kind == "protocol"


async def test_health_and_the_model_list(serve):
    models = Double(lambda _r: web.json_response({"data": [{"id": "m"}]}))
    async with EngineClient(await serve(models), "m") as client:
        assert await client.health() and await client.lists_model() is True
    async with EngineClient(await serve(Double(status(404))), "m") as client:
        assert not await client.health() and await client.lists_model() is None
