"""The engine-neutral request, answer and error of a model call, and nothing else.

Pure on purpose: domain modules build `GenerationRequest`s (the evaluator's plan, the shared
prompting) and must not pull an HTTP library in by importing them. The client that performs
the calls is `shared.engines.client`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ErrorKind = Literal["timeout", "connect", "http", "protocol"]


class EngineError(RuntimeError):
    """A model call failed; `kind` is one of timeout, connect, http, protocol."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class GenerationRequest:
    """Chat when `messages` is set, plain completion when `prompt` is set."""

    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")


@dataclass(frozen=True)
class Generation:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None


class EngineProtocol(Protocol):
    """How one engine family is spoken to: the request body, its answer, its stream events.
    A strategy the client holds (`shared.engines.openai`, `shared.engines.sglang`); pure."""

    def request_body(self, model: str, req: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        """The path and JSON body that ask `model` for `req`."""
        ...

    def parse_response(self, req: GenerationRequest, data: dict[str, Any]) -> Generation:
        """The generation in a whole (non-streamed) answer."""
        ...

    def stream_delta(self, event: dict[str, Any], state: dict[str, Any]) -> str | None:
        """The new text in one streamed event; `state` lives for one stream."""
        ...
