"""Relays an upstream SSE stream to the client unchanged, keeping the raw chunks so the
answer can be guarded, counted and logged once the stream has ended (`domain.sse` reads them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from schemas.events.deployments import RouteTarget
from services.gateway.adapters.upstream import BufferedStream, UpstreamStream
from services.gateway.domain.sse import parse_sse

if TYPE_CHECKING:
    from services.gateway.handlers.proxy import Call, Gateway


async def relay(gateway: Gateway, call: Call, target: RouteTarget, stream: UpstreamStream | BufferedStream,
                ttft: float) -> AsyncIterator[bytes]:
    chunks: list[bytes] = []
    error: str | None = None
    try:
        async for chunk in stream.chunks():
            chunks.append(chunk)
            yield chunk
    except GeneratorExit:
        error = "client disconnected"
        raise
    except Exception as exc:  # upstream broke mid-stream: the client sees a truncated stream
        error = f"stream broken: {type(exc).__name__}: {exc}"
        raise
    finally:
        text, usage = parse_sse(call.kind, b"".join(chunks))
        gateway.stream_done(call, target, stream.status, ttft, text, usage, error)
