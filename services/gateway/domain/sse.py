"""The text and usage of a streamed (server-sent events) OpenAI answer, read once the
stream has ended: what the gateway guards, counts and logs."""

from __future__ import annotations

import json

from services.gateway.domain import openai_body as ob


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
