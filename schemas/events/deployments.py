"""Events on `challenger.deployments`: routes, canaries, fallbacks. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.candidate import Decoding, ProcessingStep
from schemas.envelope import EventData

TOPIC = "challenger.deployments"


class ServingProfile(BaseModel):
    """How the gateway turns a client's request into this target's model call, and its answer
    into the client's reply: the same prompt and steps the evaluator used (shared.scoring.prompting,
    shared.processing). A single user message is the `{input}` of the template."""

    prompt_template: str = Field("{input}", description="str.format template over {input}")
    prompt_style: Literal["chat", "completion"] = Field(
        "chat", description="how the model is called: chat messages or a plain completion prompt")
    system_prompt: str | None = None
    decoding: Decoding | None = Field(None, description="defaults for sampling fields the client leaves out")
    preprocess: list[ProcessingStep] = Field(default_factory=list)
    postprocess: list[ProcessingStep] = Field(default_factory=list)


class RouteTarget(BaseModel):
    candidate_id: str
    url: str
    model: str
    weight: float = Field(1.0, ge=0.0)
    api_key_env: str | None = None
    prompt_version: str | None = Field(None, description="prompt version this target serves (part of cache keys)")
    serving: ServingProfile | None = Field(
        None, description="prompt, decoding defaults and processing steps the gateway applies; "
                          "none: requests are forwarded as the client sent them")


class RouteTable(BaseModel):
    route: str
    targets: list[RouteTarget] = Field(default_factory=list)
    shadows: list[RouteTarget] = Field(default_factory=list)
    fallbacks: list[RouteTarget] = Field(default_factory=list)
    sticky_key: str | None = Field(None, description="header whose value pins a user to a target")
    require_json: bool = False
    cache_ttl_s: int | None = Field(None, ge=1)
    log_sample_rate: float | None = Field(None, ge=0.0, le=1.0,
                                          description="share of requests logged as inference.logged")
    timeout_s: float | None = Field(None, gt=0.0, description="per-attempt upstream timeout")
    max_input_tokens: int | None = Field(None, ge=1)
    blocked_topics: list[str] = Field(default_factory=list)


class RouteUpdated(EventData):
    """The whole routing table of one route; the gateway applies it atomically."""

    event_type: ClassVar[str] = "io.challenger.route.updated"
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str] = "route"

    route: str
    table: RouteTable
    revision: int = Field(ge=0)


class DeploymentChanged(EventData):
    event_type: ClassVar[str] = "io.challenger.deployment.changed"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    route: str
    environment: Literal["staging", "prod"]
    status: Literal["deploying", "healthy", "failed", "stopped"]
    detail: str = ""


class CanaryStepChanged(EventData):
    event_type: ClassVar[str] = "io.challenger.canary.step_changed"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    route: str
    weight_pct: float = Field(ge=0, le=100)
    decision: Literal["advance", "hold", "promote", "rollback", "inconclusive"]
    reason: str
    analysis: dict[str, float] = Field(default_factory=dict)


class FallbackActivated(EventData):
    event_type: ClassVar[str] = "io.challenger.fallback.activated"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    route: str
    fallback_candidate_id: str
    reason: str
    degradation_id: str | None = None
