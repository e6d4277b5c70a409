"""The text and usage of a streamed (server-sent events) OpenAI answer, read once the
stream has ended: what the gateway guards, counts and logs. Lines are read by the one SSE
parser (shared.engines.sse); a line that is not a JSON object is skipped here, since the
client has had the stream as the upstream sent it."""

from __future__ import annotations

from services.gateway.domain import openai_body as ob
from shared.engines.sse import sse_data
from shared.engines.types import EngineError


def parse_sse(kind: str, raw: bytes) -> tuple[str, tuple[int, int]]:
    """The streamed answer's text and its usage (when the upstream sent one)."""
    parts: list[str] = []
    usage = (0, 0)
    for line in raw.split(b"\n"):
        try:
            chunk = sse_data(line)
        except EngineError:
            continue
        if not isinstance(chunk, dict):  # not a data line, or [DONE]
            continue
        parts.append(ob.stream_delta(kind, chunk))
        if chunk.get("usage"):
            usage = ob.usage(chunk)
    return "".join(parts), usage
