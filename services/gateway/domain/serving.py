"""A target's serving profile applied to one request: the prompt, the decoding defaults and
the processing steps the evaluator used, so production answers as Dev measured. Pure.

The prompt is built by `shared.scoring.prompting` (the evaluator's own code), the steps run
through `shared.processing`:
- A request whose conversation is ONE user message (or a completion request with one prompt)
  is a text input: pre-processed, rendered as `{input}` through the template, the system
  prompt put first. Any other conversation goes as the evaluator sends chat items: as it is,
  with the system prompt added when it has none.
- Style `completion` calls the engine's completion API, whatever API the client called;
  the answer is translated back into the shape the client asked for.
- The post-processing steps turn each choice's text into the answer the client gets.
A profile that cannot apply raises `ServingError` with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schemas.events.deployments import ServingProfile
from shared.processing import ProcessingError, postprocess
from shared.scoring.prompting import Input, PromptError, chat_messages, completion_prompt, prepared_input

Body = dict[str, Any]
WHAT = "request"
# request fields both OpenAI APIs share: all that survives a change of API
_PORTABLE = frozenset({"model", "temperature", "top_p", "max_tokens", "n", "stop", "seed", "stream", "stream_options",
                       "presence_penalty", "frequency_penalty", "logit_bias", "user"})


class ServingError(ValueError):
    """The target's serving profile could not be applied to this request or its answer."""


@dataclass(frozen=True)
class UpstreamRequest:
    kind: str  # "chat" or "completions": which upstream API to call
    body: Body


def upstream_kind(kind: str, profile: ServingProfile | None) -> str:
    if profile is None:
        return kind
    return "chat" if profile.prompt_style == "chat" else "completions"


def needs_whole_answer(kind: str, profile: ServingProfile | None) -> bool:
    """Whether the answer must be read whole before the client sees it: it is post-processed,
    or comes from the other API and must be translated."""
    return profile is not None and (bool(profile.postprocess) or upstream_kind(kind, profile) != kind)


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type", "text") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return None


def request_input(kind: str, body: Body) -> Input:
    """The request as the evaluator's input: text, or chat messages."""
    if kind != "chat":
        prompt = body["prompt"]
        if isinstance(prompt, list):
            if len(prompt) != 1 or not isinstance(prompt[0], str):
                raise ServingError("a serving profile renders one prompt per request, not a list of prompts")
            prompt = prompt[0]
        return str(prompt)
    messages = body["messages"]
    if len(messages) == 1 and messages[0].get("role") == "user" and (text := _text(messages[0].get("content"))) \
            is not None:
        return text
    return [dict(m) for m in messages]


def _flat(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose content is text, for a completion prompt."""
    return [{**m, "content": _text(m.get("content")) or ""} for m in messages]


def with_defaults(body: Body, profile: ServingProfile | None) -> Body:
    """The request with the profile's decoding in the sampling fields the client left out."""
    d = profile.decoding if profile is not None else None
    if d is None:
        return body
    out = dict(body)
    defaults = {"temperature": d.temperature, "top_p": d.top_p, "seed": d.seed, "stop": list(d.stop) or None,
                "max_tokens": None if out.get("max_completion_tokens") is not None else d.max_tokens}
    for name, value in defaults.items():
        if value is not None and out.get(name) is None:
            out[name] = value
    return out


def upstream_request(kind: str, body: Body, profile: ServingProfile | None) -> UpstreamRequest:
    """The request the target's model gets (the route name still in `model`)."""
    if profile is None:
        return UpstreamRequest(kind, body)
    target_kind = upstream_kind(kind, profile)
    try:
        value = prepared_input(profile.preprocess, request_input(kind, body), {})
        if target_kind == "chat":
            prompt: Body = {"messages": chat_messages(profile, value, {}, WHAT)}
        else:
            text = _flat(value) if isinstance(value, list) else value
            prompt = {"prompt": completion_prompt(profile, text, {}, WHAT)}
    except (PromptError, ProcessingError) as exc:
        raise ServingError(f"pre-processing: {exc}") from exc
    if target_kind == kind:
        rest = {k: v for k, v in body.items() if k not in ("messages", "prompt")}
    else:
        rest = {k: v for k, v in body.items() if k in _PORTABLE}
        if body.get("max_completion_tokens") is not None and rest.get("max_tokens") is None:
            rest["max_tokens"] = body["max_completion_tokens"]
    return UpstreamRequest(target_kind, with_defaults({**rest, **prompt}, profile))


def _choice_text(kind: str, choice: Body) -> str | None:
    text = (choice.get("message") or {}).get("content") if kind == "chat" else choice.get("text")
    return text if isinstance(text, str) else None


def _served_choice(kind: str, from_kind: str, choice: Any, profile: ServingProfile) -> Body:
    if not isinstance(choice, dict):
        raise ServingError("the upstream answer has a malformed choice")
    text = _choice_text(from_kind, choice)
    if text is not None and profile.postprocess:
        try:
            text = postprocess(profile.postprocess, text)
        except ProcessingError as exc:
            raise ServingError(f"post-processing: {exc}") from exc
    if kind == from_kind:
        if text is None:
            return choice
        return {**choice, "message": {**choice["message"], "content": text}} if kind == "chat" \
            else {**choice, "text": text}
    common = {k: v for k, v in choice.items() if k in ("index", "finish_reason", "logprobs")}
    if kind == "chat":
        return {**common, "message": {"role": "assistant", "content": text}}
    return {**common, "text": text or ""}


def client_answer(kind: str, from_kind: str, data: Any, profile: ServingProfile | None) -> Any:
    """The upstream's answer (`from_kind` API) as the client's `kind` API answers, each choice's
    text post-processed."""
    if profile is None:
        return data
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise ServingError("the upstream answer has no choices")
    choices = [_served_choice(kind, from_kind, c, profile) for c in data["choices"]]
    out = {**data, "choices": choices}
    if kind != from_kind:
        out["object"] = "chat.completion" if kind == "chat" else "text_completion"
    return out


def _event(obj: Body) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def as_sse(kind: str, data: Body, include_usage: bool) -> bytes:
    """A whole answer replayed as the stream the client asked for: per choice its text in one
    chunk, then its finish reason; the usage chunk when asked; `[DONE]`."""
    chat = kind == "chat"
    base = {"id": data.get("id", ""), "created": data.get("created", 0), "model": data.get("model", ""),
            "object": "chat.completion.chunk" if chat else "text_completion"}
    parts: list[bytes] = []
    for i, choice in enumerate(data.get("choices") or []):
        index = choice.get("index", i)
        text = _choice_text(kind, choice) or ""
        if chat:
            first = {"index": index, "delta": {"role": "assistant", "content": text}, "finish_reason": None}
            last = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
        else:
            first = {"index": index, "text": text, "finish_reason": None}
            last = {"index": index, "text": "", "finish_reason": choice.get("finish_reason")}
        parts += [_event({**base, "choices": [first]}), _event({**base, "choices": [last]})]
    if include_usage and isinstance(data.get("usage"), dict):
        parts.append(_event({**base, "choices": [], "usage": data["usage"]}))
    return b"".join(parts) + b"data: [DONE]\n\n"
