"""SGLang: completions through the native `/generate` API, chat through its OpenAI-compatible
endpoint. Native `/generate` streams SSE lines whose `text` is cumulative."""

from __future__ import annotations

from typing import Any

from shared.engines.base import EngineError, Generation, GenerationRequest, sse_payload
from shared.engines.openai import OpenAIClient


class SGLangClient(OpenAIClient):
    def request_body(self, req: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        if req.messages is not None:
            return super().request_body(req, stream=stream)
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

    def parse_stream_line(self, line: str, state: dict[str, Any]) -> str | None:
        payload = sse_payload(line)
        if payload is None:
            return None
        if "choices" in payload:
            return super().parse_stream_line(line, state)
        text = str(payload.get("text", ""))
        seen = int(state.get("seen", 0))
        state["seen"] = len(text)
        return text[seen:] or None
