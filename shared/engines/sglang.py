"""SGLang: completions through the native `/generate` API, chat through its OpenAI-compatible
endpoint. Native `/generate` streams SSE events whose `text` is cumulative."""

from __future__ import annotations

from typing import Any

from shared.engines.openai import OpenAIProtocol
from shared.engines.types import EngineError, Generation, GenerationRequest


class SGLangProtocol(OpenAIProtocol):
    def request_body(self, model: str, req: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        if req.messages is not None:
            return super().request_body(model, req, stream=stream)
        params: dict[str, Any] = {"temperature": req.temperature, "top_p": req.top_p,
                                  "max_new_tokens": req.max_tokens}
        if req.stop:
            params["stop"] = req.stop
        if req.seed is not None:
            params["sampling_seed"] = req.seed
        return "/generate", {"text": req.prompt, "sampling_params": params, "stream": stream}

    def parse_response(self, req: GenerationRequest, data: dict[str, Any]) -> Generation:
        if req.messages is not None:
            return super().parse_response(req, data)
        if "text" not in data:
            raise EngineError("protocol", f"/generate answer has no text: {str(data)[:200]}")
        meta = data.get("meta_info") or {}
        finish = meta.get("finish_reason")
        return Generation(str(data["text"]), int(meta.get("prompt_tokens", 0)),
                          int(meta.get("completion_tokens", 0)),
                          finish_reason=finish.get("type") if isinstance(finish, dict) else finish)

    def stream_delta(self, event: dict[str, Any], state: dict[str, Any]) -> str | None:
        if "choices" in event:
            return super().stream_delta(event, state)
        text = str(event.get("text", ""))
        seen = int(state.get("seen", 0))
        state["seen"] = len(text)
        return text[seen:] or None
