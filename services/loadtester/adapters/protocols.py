"""Wire formats: how to ask for a streamed generation and how to read one SSE event.

Each protocol turns (model, content, max tokens) into a request body and the JSON object of
one SSE `data:` line (read by the one SSE parser, `shared.engines.sse`) into an `Event`.
Content is a prompt or chat messages (`domain.prompts`); a completion protocol given messages
sends them flattened. OpenAI chat/completions and SGLang's native /generate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.loadtester.domain.prompts import Content, flatten


@dataclass(slots=True)
class Event:
    text: str = ""  # new content in this event
    cumulative_tokens: int | None = None  # SGLang meta_info.completion_tokens
    completion_tokens: int | None = None  # usage, when the server sends it
    prompt_tokens: int | None = None
    error: str | None = None


class OpenAIChat:
    name = "openai-chat"
    path = "/v1/chat/completions"

    def body(self, model: str, content: Content, max_tokens: int, stream: bool = True) -> dict[str, Any]:
        messages = content if isinstance(content, list) else [{"role": "user", "content": content}]
        out: dict[str, Any] = {"model": model, "messages": messages,
                               "max_tokens": max_tokens, "temperature": 0.0, "stream": stream}
        if stream:
            out["stream_options"] = {"include_usage": True}
        return out

    def prompt_tokens(self, obj: dict[str, Any]) -> int | None:
        """The prompt-token count in a whole (non-streamed) reply."""
        usage = obj.get("usage")
        return usage.get("prompt_tokens") if isinstance(usage, dict) else None

    def content(self, choice: dict[str, Any]) -> str:
        return (choice.get("delta") or {}).get("content") or ""

    def whole_text(self, obj: dict[str, Any]) -> str:
        return ((obj.get("choices") or [{}])[0].get("message") or {}).get("content") or ""

    def parse(self, obj: dict[str, Any], prev_text: str) -> Event:
        if "error" in obj and obj["error"]:
            return Event(error="stream_error")
        ev = Event()
        choices = obj.get("choices") or []
        if choices:
            ev.text = self.content(choices[0])
        usage = obj.get("usage")
        if isinstance(usage, dict):
            ev.completion_tokens = usage.get("completion_tokens")
            ev.prompt_tokens = usage.get("prompt_tokens")
        return ev


class OpenAICompletions(OpenAIChat):
    name = "openai-completions"
    path = "/v1/completions"

    def body(self, model: str, content: Content, max_tokens: int, stream: bool = True) -> dict[str, Any]:
        out = super().body(model, content, max_tokens, stream)
        del out["messages"]
        out["prompt"] = flatten(content)
        return out

    def content(self, choice: dict[str, Any]) -> str:
        return choice.get("text") or ""

    def whole_text(self, obj: dict[str, Any]) -> str:
        return (obj.get("choices") or [{}])[0].get("text") or ""


class SGLangGenerate:
    name = "sglang"
    path = "/generate"

    def body(self, model: str, content: Content, max_tokens: int, stream: bool = True) -> dict[str, Any]:
        return {"text": flatten(content), "stream": stream,
                "sampling_params": {"max_new_tokens": max_tokens, "temperature": 0.0, "ignore_eos": True}}

    def prompt_tokens(self, obj: dict[str, Any]) -> int | None:
        meta = obj.get("meta_info")
        return meta.get("prompt_tokens") if isinstance(meta, dict) else None

    def whole_text(self, obj: dict[str, Any]) -> str:
        return str(obj.get("text") or "")

    def parse(self, obj: dict[str, Any], prev_text: str) -> Event:
        if "error" in obj and obj["error"]:
            return Event(error="stream_error")
        text = str(obj.get("text") or "")
        meta = obj.get("meta_info") or {}
        cumulative = meta.get("completion_tokens")
        return Event(text=text[len(prev_text):] if text.startswith(prev_text) else text,
                     cumulative_tokens=cumulative, completion_tokens=cumulative,
                     prompt_tokens=meta.get("prompt_tokens"))


Protocol = OpenAIChat | OpenAICompletions | SGLangGenerate
PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (OpenAIChat, OpenAICompletions, SGLangGenerate)}


def protocol_for(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name]()
