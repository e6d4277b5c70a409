"""The one server-sent-events parser of model streams: split a byte stream into its complete
events' lines, and read one `data:` line into its JSON object (with `json_object`, which also
reads whole, non-streamed answers).

Used by the engine client's `stream` and by the load tester's timed client, which stamps each
read before it parses it (so parsing costs no timing accuracy). The gateway reads its relayed
streams with its own helpers, on its hot path. Pure: bytes in, objects out.

What the model servers send (OpenAI-compatible, SGLang's native `/generate`): one JSON object
per `data:` line, events ended by a blank line, the stream ended by `data: [DONE]`. Comments
(`: keep-alive`), other fields (`event:`, `id:`) and blank lines carry nothing for us.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

from shared.engines.types import EngineError


class _End(enum.Enum):
    DONE = "[DONE]"


DONE: Literal[_End.DONE] = _End.DONE  # the `data: [DONE]` that ends a stream


def complete_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The lines of the complete events in `buffer` (up to its last blank line), and the
    incomplete rest, to be read again with the next bytes. CRLF line ends count as LF."""
    if b"\r" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n")
    cut = buffer.rfind(b"\n\n")
    if cut < 0:
        return [], buffer
    return buffer[:cut].split(b"\n"), buffer[cut + 2:]


def sse_data(line: bytes) -> dict[str, Any] | Literal[_End.DONE] | None:
    """The JSON object of one `data:` line, DONE for `[DONE]`, None for any other line.

    A data line that is not a JSON object raises EngineError("protocol"): the server does not
    speak the protocol, and the caller decides whether that ends the stream."""
    if not line.startswith(b"data:"):
        return None
    raw = line[5:].strip()
    if not raw:
        return None
    if raw == b"[DONE]":
        return DONE
    return json_object(raw, "SSE data")


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """`raw` read as the JSON object every engine answer is (a whole body or one stream event);
    anything else raises EngineError("protocol") naming `what` it was."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise EngineError("protocol", f"{what} is not JSON: {raw[:120].decode(errors='replace')}") from exc
    if not isinstance(value, dict):
        raise EngineError("protocol", f"{what} is JSON but not an object: {raw[:120].decode(errors='replace')}")
    return value
