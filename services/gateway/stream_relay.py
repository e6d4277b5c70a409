"""Relays an upstream SSE stream to the client unchanged, keeping the raw chunks so the
answer can be guarded, counted and logged once the stream has ended."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from schemas.events.deployments import RouteTarget
from services.gateway.domain import openai_body as ob
from services.gateway.upstream import BufferedStream, UpstreamStream

if TYPE_CHECKING:
    from services.gateway.proxy import Call, Gateway


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


def parse_sse(kind: str, raw: bytes) -> tuple[str, tuple[int, int]]:
    """The streamed answer's text and its usage (when the upstream sent one)."""
    parts: list[str] = []
    usage = (0, 0)
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]" or not payload:
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
        parts.append(ob.stream_delta(kind, chunk))
        if chunk.get("usage"):
            usage = ob.usage(chunk)
    return "".join(parts), usage
