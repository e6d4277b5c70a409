"""The parts of OpenAI-compatible request and response bodies the gateway reads or rewrites.

`kind` is "chat" (/v1/chat/completions) or "completions" (/v1/completions).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.engines.sse import DONE, complete_lines, sse_data
from shared.engines.types import EngineError

Body = dict[str, Any]

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
}


@dataclass(frozen=True)
class Param:
    """A standard OpenAI request field the gateway checks before anything goes upstream (and
    documents in its OpenAPI). null means "the upstream's default"; other fields pass through."""

    json_type: str
    description: str
    minimum: float | None = None
    maximum: float | None = None

    def accepts(self, value: Any) -> bool:
        return value is None or (_JSON_TYPES[self.json_type](value)
                                 and (self.minimum is None or value >= self.minimum)
                                 and (self.maximum is None or value <= self.maximum))

    def problem(self, name: str, value: Any) -> str | None:
        if self.accepts(value):
            return None
        low, high = self.minimum, self.maximum
        bounds = (f" from {low:g} to {high:g}" if low is not None and high is not None
                  else f" of at least {low:g}" if low is not None else "")
        article = "an" if self.json_type[0] in "aeio" else "a"
        return f"{name!r} must be {article} {self.json_type}{bounds} or null, not {json.dumps(value)[:80]}"


COMMON_PARAMS: dict[str, Param] = {
    "stream": Param("boolean", "answer as server-sent events (text/event-stream), ended by `data: [DONE]`"),
    "stream_options": Param("object", "e.g. {\"include_usage\": true} for a last chunk carrying `usage`"),
    "max_tokens": Param("integer", "most tokens to generate", 1),
    "temperature": Param("number", "sampling temperature; 0 is greedy (and cacheable)", 0, 2),
    "top_p": Param("number", "nucleus sampling mass", 0, 1),
    "n": Param("integer", "choices to generate", 1, 128),
    "seed": Param("integer", "sampling seed; a seeded request is deterministic (and cacheable)"),
    "presence_penalty": Param("number", "penalty on tokens already present", -2, 2),
    "frequency_penalty": Param("number", "penalty by token frequency", -2, 2),
    "user": Param("string", "the end user, for the upstream's abuse monitoring"),
}
CHAT_PARAMS: dict[str, Param] = {
    **COMMON_PARAMS,
    "max_completion_tokens": Param("integer", "most tokens to generate (newer name of max_tokens)", 1),
}


def params(kind: str) -> dict[str, Param]:
    return CHAT_PARAMS if kind == "chat" else COMMON_PARAMS


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _text_problem(value: Any) -> str | None:
    """An escaped lone surrogate, which no UTF-8 consumer downstream (an upstream, Kafka) can take."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not Unicode text"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if problem := _text_problem(key) or _text_problem(item):
            return problem
    return None


def parse_json(raw: bytes) -> Any:
    """Strict JSON: NaN and Infinity, which Python would accept, are refused; so are lone
    surrogate escapes and nesting too deep to parse. Any problem is a ValueError."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if (b"\\ud" in raw or b"\\uD" in raw) and (problem := _text_problem(body)):
        raise ValueError(problem)
    return body


def _message_error(i: int, message: Any) -> str | None:
    if not isinstance(message, dict):
        return f"'messages[{i}]' must be a message object"
    if not isinstance(message.get("role"), str) or not message["role"]:
        return f"'messages[{i}].role' must be a non-empty string (system, user, assistant, tool...)"
    if not isinstance(message.get("content"), str | list | None):
        return f"'messages[{i}].content' must be a string, a list of content parts or null"
    return None


def validation_error(kind: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' (the route name) is required"
    if kind == "chat":
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "'messages' must be a non-empty list of message objects"
        for i, message in enumerate(msgs):
            if problem := _message_error(i, message):
                return problem
    elif not isinstance(body.get("prompt"), str | list):
        return "'prompt' must be a string or a list of strings"
    for name, param in params(kind).items():
        if problem := param.problem(name, body.get(name)):
            return problem
    return None


def _content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def request_texts(kind: str, body: Body) -> list[str]:
    if kind == "chat":
        return [t for m in body["messages"] for t in _content_texts(m.get("content"))]
    prompt = body["prompt"]
    return [prompt] if isinstance(prompt, str) else [p for p in prompt if isinstance(p, str)]


def _map_content(content: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(content, str):
        return fn(content)
    if isinstance(content, list):
        return [{**p, "text": fn(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
                for p in content]
    return content


def map_request_texts(kind: str, body: Body, fn: Callable[[str], str]) -> Body:
    """A copy of `body` with every user-visible text passed through `fn`."""
    if kind == "chat":
        return {**body, "messages": [{**m, "content": _map_content(m["content"], fn)} if "content" in m else m
                                     for m in body["messages"]]}
    prompt = body["prompt"]
    return {**body, "prompt": fn(prompt) if isinstance(prompt, str) else [_map_content(p, fn) for p in prompt]}


def response_text(kind: str, data: Any) -> str:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] if kind == "chat" else choice["text"]
    except (KeyError, IndexError, TypeError):
        return ""
    return text if isinstance(text, str) else ""


def with_response_text(kind: str, data: Body, text: str) -> Body:
    choice = dict(data["choices"][0])
    if kind == "chat":
        choice["message"] = {**choice["message"], "content": text}
    else:
        choice["text"] = text
    return {**data, "choices": [choice, *data["choices"][1:]]}


def usage(data: Any) -> tuple[int, int]:
    u = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(u, dict):
        return 0, 0
    return int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)


def stream_delta(kind: str, chunk: Any) -> str:
    try:
        choice = chunk["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    text = (choice.get("delta") or {}).get("content") if kind == "chat" else choice.get("text")
    return text if isinstance(text, str) else ""


def prompt_text(texts: list[str]) -> str:
    return "\n".join(texts)


def stream_error_event(message: str, kind: str = "upstream_error", code: int = 502) -> bytes:
    """An error told inside an SSE stream whose status line has already gone (OpenAI's shape:
    clients such as the openai SDK raise it as an APIError)."""
    error = {"error": {"message": message, "type": kind, "code": code}}
    return b"data: " + json.dumps(error).encode() + b"\n\n"


def stream_has_begun(kind: str, raw: bytes) -> bool:
    """Whether the SSE read so far holds an answer's first token (or its end, an error, or
    anything that is not an OpenAI chunk). Until then, role-only and empty chunks have told the
    client nothing, and the request can still go to another target."""
    lines, _partial = complete_lines(raw)
    for line in lines:
        try:
            chunk = sse_data(line)
        except EngineError:
            return True  # something we do not read: hand it over as it is
        if chunk is None:
            continue
        if chunk is DONE or "choices" not in chunk or stream_delta(kind, chunk):
            return True
    return False
