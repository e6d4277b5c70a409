"""The bare-ASGI front: proxy paths go to the gateway, the rest to FastAPI, and a client
that hangs up stops the upstream stream."""

import asyncio
from types import SimpleNamespace

from services.gateway.domain.replies import Reply
from services.gateway.entrypoints.asgi import ProxyASGI


class FakeGateway:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.seen: list[tuple[str, bytes, dict]] = []

    async def handle(self, kind, body, headers):
        self.seen.append((kind, body, headers))
        return self.reply


def make(reply: Reply):
    calls = []

    async def fastapi(scope, receive, send):
        calls.append(scope["path"])

    service = SimpleNamespace(gateway=FakeGateway(reply), serving=True)
    return ProxyASGI(fastapi, service), service.gateway, calls  # type: ignore[arg-type]


def scope(path: str, method: str = "POST"):
    return {"type": "http", "path": path, "method": method, "headers": [(b"x-user-id", b"u1")]}


async def test_proxy_paths_reach_the_gateway_and_others_fastapi():
    app, gateway, calls = make(Reply(200, [(b"content-type", b"application/json")], b"{}"))
    sent = []
    messages = iter([{"type": "http.request", "body": b'{"a"', "more_body": True},
                     {"type": "http.request", "body": b": 1}"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    await app(scope("/v1/chat/completions"), receive, send)
    await app(scope("/routes", "GET"), receive, send)
    assert gateway.seen == [("chat", b'{"a": 1}', {"x-user-id": "u1"})]
    assert calls == ["/routes"]
    assert sent[0]["status"] == 200 and (b"content-length", b"2") in sent[0]["headers"]


async def test_client_disconnect_closes_the_stream():
    closed = asyncio.Event()

    async def endless():
        try:
            while True:
                await asyncio.sleep(0.01)
                yield b"data: x\n\n"
        finally:
            closed.set()

    app, _, _ = make(Reply(200, [], stream=endless()))
    receives = 0

    async def receive():
        nonlocal receives
        receives += 1
        if receives == 1:
            return {"type": "http.request", "body": b"{}"}
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    chunks = []

    async def send(message):
        chunks.append(message)

    await asyncio.wait_for(app(scope("/v1/completions"), receive, send), 5)
    assert closed.is_set() and 1 < len(chunks) < 50


async def test_a_gateway_bug_becomes_a_json_500():
    app, gateway, _ = make(Reply(200))

    async def broken(kind, body, headers):
        raise KeyError("boom")

    gateway.handle = broken
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}"}

    async def send(message):
        sent.append(message)

    await app(scope("/v1/chat/completions"), receive, send)
    assert sent[0]["status"] == 500 and b"internal_error" in sent[1]["body"]


async def test_an_oversized_body_gets_a_json_413_that_says_why():
    app, gateway, _ = make(Reply(200))
    big = b"x" * (1024 * 1024)
    messages = iter([{"type": "http.request", "body": big, "more_body": True}] * 9)

    async def receive():
        return next(messages)

    sent = []

    async def send(message):
        sent.append(message)

    await app(scope("/v1/chat/completions"), receive, send)
    assert gateway.seen == []
    assert sent[0]["status"] == 413 and b"over 8 MiB" in sent[1]["body"]


async def test_a_stream_that_breaks_midway_ends_with_an_sse_error_event():
    async def breaks():
        yield b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
        raise ConnectionResetError("upstream went away")

    app, _, _ = make(Reply(200, [(b"content-type", b"text/event-stream")], stream=breaks()))

    async def receive():
        await asyncio.sleep(10)

    sent = []

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(app(scope("/v1/chat/completions"), _first_then(receive), send), 5)
    assert sent[0]["status"] == 200 and b"hi" in sent[1]["body"]
    last = sent[-1]
    assert not last.get("more_body") and last["body"].startswith(b'data: {"error": ')
    assert b"the answer is incomplete" in last["body"]


def _first_then(rest):
    """A receive() that hands over the request body once, then behaves like `rest`."""
    first = True

    async def receive():
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"{}"}
        return await rest()

    return receive
