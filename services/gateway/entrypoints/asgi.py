"""The hot path: /v1/chat/completions and /v1/completions are served by a bare ASGI
handler in front of the FastAPI app (no middleware stack, no per-request validation
models), which is most of the gateway's latency budget. Everything else, including the
lifespan, goes to FastAPI, and so do the proxied paths until the service is serving."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from services.gateway.domain.openai_body import stream_error_event
from services.gateway.domain.replies import Reply, error_reply

if TYPE_CHECKING:
    from services.gateway.bootstrap import GatewayService

log = logging.getLogger(__name__)

PROXY_PATHS = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}
MAX_BODY = 8 * 1024 * 1024


class ProxyASGI:
    def __init__(self, app: Any, service: GatewayService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = PROXY_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST" or not self.service.serving:
            await self.app(scope, receive, send)
            return
        gateway = self.service.gateway
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _read_body(receive)
        if body is None:
            await _send(send, error_reply(413, "request body over 8 MiB", "invalid_request_error",
                                          headers.get("x-request-id", "-")), receive)
            return
        try:
            reply = await gateway.handle(kind, body, headers)
        except Exception:  # a bug must not cost more than this one request, and says so in JSON
            log.exception("gateway failed on %s", scope["path"])
            reply = error_reply(500, "internal gateway error; see the gateway log", "internal_error",
                                headers.get("x-request-id", "-"))
        await _send(send, reply, receive)


async def _read_body(receive: Any) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _send(send: Any, reply: Reply, receive: Any) -> None:
    if reply.stream is None:
        headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
    stream = reply.stream
    gone = asyncio.Event()  # a client that hangs up stops the upstream stream too
    watcher = asyncio.create_task(_watch_disconnect(receive, gone))
    try:
        async for chunk in stream:
            if gone.is_set():
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b""})
    except Exception as exc:  # the upstream died mid-stream: the status has gone, so say it in the stream
        log.warning("stream broken after its first byte: %s: %s", type(exc).__name__, exc)
        event = stream_error_event(f"the upstream stream broke after it started ({type(exc).__name__}); "
                                   "the answer is incomplete, retry the request")
        await send({"type": "http.response.body", "body": event})
    finally:
        watcher.cancel()
        await stream.aclose()  # type: ignore[attr-defined]
