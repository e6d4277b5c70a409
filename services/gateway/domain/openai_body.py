"""The parts of OpenAI-compatible request and response bodies the gateway reads or rewrites.

`kind` is "chat" (/v1/chat/completions) or "completions" (/v1/completions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Body = dict[str, Any]


def validation_error(kind: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' (the route name) is required"
    if kind == "chat":
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            return "'messages' must be a non-empty list of message objects"
    elif not isinstance(body.get("prompt"), str | list):
        return "'prompt' must be a string or a list of strings"
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
