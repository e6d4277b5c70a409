"""Events on `challenger.inference`: sampled production traffic and feedback. Key: route."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import EventData

TOPIC = "challenger.inference"

# Why a request was sent, as its sender declares it in this HTTP header to the gateway; a
# closed set, so no free text gets in.
PURPOSE_HEADER = "x-challenger-purpose"
Purpose = Literal["eval", "stability", "e2e", "redteam"]


class InferenceLogged(EventData):
    event_type: ClassVar[str] = "io.challenger.inference.logged"
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str] = "route"

    request_id: str
    route: str
    candidate_id: str
    prompt_version: str | None = None
    role: Literal["primary", "shadow", "fallback"] = "primary"
    prompt: str
    response: str
    status: Literal["ok", "error", "blocked"] = "ok"
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    guardrail_hits: list[str] = Field(default_factory=list)
    cached: bool = False
    purpose: Purpose | None = Field(
        None, description="why the request was sent, as its sender declared it (the evaluator's header "
                          "x-challenger-purpose): eval, stability, e2e or redteam; null for ordinary traffic "
                          "or an unknown value. The monitor keeps redteam requests out of a route's reference.")
    sample_rate: float | None = Field(
        None, gt=0, le=1, description="the share of requests the gateway logs on this route: one logged request "
                                      "stands for 1/sample_rate requests (none: unknown, taken as 1)")


class FeedbackReceived(EventData):
    event_type: ClassVar[str] = "io.challenger.feedback.received"
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str] = "route"

    request_id: str
    route: str
    score: float = Field(ge=-1.0, le=1.0, description="thumbs down -1, up +1, or a graded label")
    label: str | None = None
    comment: str = ""
