"""OpenAI-compatible servers: third-party APIs, vLLM, and llama.cpp's server."""

from __future__ import annotations

from typing import Any

from shared.engines.types import EngineError, Generation, GenerationRequest


class OpenAIProtocol:
    """`/v1/chat/completions` for chat, `/v1/completions` for a plain prompt."""

    def request_body(self, model: str, req: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": model, "temperature": req.temperature, "top_p": req.top_p,
            "max_tokens": req.max_tokens, "stream": stream,
        }
        if req.seed is not None:
            body["seed"] = req.seed
        if req.stop:
            body["stop"] = req.stop
        if stream:
            body["stream_options"] = {"include_usage": True}
        if req.messages is not None:
            return "/v1/chat/completions", {**body, "messages": req.messages}
        return "/v1/completions", {**body, "prompt": req.prompt}

    def parse_response(self, req: GenerationRequest, data: dict[str, Any]) -> Generation:
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if req.messages is not None else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineError("protocol", f"unexpected response shape: {str(data)[:200]}") from exc
        usage = data.get("usage") or {}
        return Generation(text or "", int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          finish_reason=choice.get("finish_reason"))

    def stream_delta(self, event: dict[str, Any], state: dict[str, Any]) -> str | None:
        if not event.get("choices"):
            return None
        choice = event["choices"][0]
        delta = choice.get("delta") or {}
        return delta.get("content") or choice.get("text") or None
