"""Events on `challenger.prompts`: prompt optimization and configuration search. Key: candidate id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.candidate import CandidateSpec, Decoding, ProcessingStep
from schemas.envelope import EventData
from schemas.task import TaskSpec

TOPIC = "challenger.prompts"


class Budget(BaseModel):
    max_optimizer_calls: int = Field(20, ge=0)
    max_eval_calls: int = Field(500, ge=1)
    max_tokens: int = Field(500_000, ge=1)
    max_seconds: float | None = Field(None, gt=0)


class PromptOptimizationRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.prompt_optimization.requested"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    task: str
    candidate: CandidateSpec
    task_spec: TaskSpec
    optimizer_candidate_id: str | None = None
    optimizer: CandidateSpec | None = None
    strategy: Literal["instruction", "fewshot", "combined"] = "combined"
    seed: int = 0
    budget: Budget = Field(default_factory=Budget)
    max_rounds: int = Field(3, ge=0, le=100, description="search rounds after scoring the current prompt")
    candidates_per_round: int = Field(2, ge=1, le=20, description="new variants per strategy per round")
    shots: int = Field(4, ge=1, le=32, description="demonstrations per few-shot variant")
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="significance level of the held-out paired test")


class PromptOptimized(EventData):
    event_type: ClassVar[str] = "io.challenger.prompt.optimized"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    accepted: bool
    reason: str
    baseline_score: float
    best_score: float
    p_value: float | None = None
    prompt_template: str | None = None
    prompt_style: Literal["chat", "completion"] | None = Field(
        None, description="how the new template is sent: chat messages or a plain completion prompt")
    derived_spec: CandidateSpec | None = None
    spent: dict[str, float] = Field(default_factory=dict)
    report_path: str | None = None
    comparison: dict[str, float | int | str] | None = Field(
        None, description="the held-out paired test: n, means, difference, CI, test, p_value, mde")
    splits: dict[str, list[str]] = Field(default_factory=dict, description="item ids of train/validation/test")
    seed: int | None = None
    pareto: list[dict[str, float | int | str]] = Field(
        default_factory=list, description="variants on the score / prompt tokens / latency Pareto set")
    stopped: str | None = Field(None, description="why the search ended: max_rounds or the budget limit hit")


class PromptOptimizationFailed(EventData):
    event_type: ClassVar[str] = "io.challenger.prompt_optimization.failed"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    reason: str


DECODING_KNOBS = ("temperature", "top_p", "max_tokens", "stop")


class PostprocessVariant(BaseModel):
    """A named list of output steps; `[]` keeps the raw answer."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    steps: list[ProcessingStep] = Field(default_factory=list)


class EndpointVariant(BaseModel):
    """Another engine or endpoint serving the same model (e.g. another quantization)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=40)
    url: AnyHttpUrl
    model: str | None = Field(None, max_length=200, description="model name there; the base model's by default")
    quantization: str | None = Field(None, max_length=40)


class SearchSpace(BaseModel):
    """The space of a configuration search: each dimension a non-empty list of values; a left-out
    dimension keeps the base candidate's value. Decoding values are checked by `Decoding`'s rules."""

    model_config = ConfigDict(extra="forbid")

    temperature: list[float] | None = Field(None, min_length=1, max_length=16)
    top_p: list[float] | None = Field(None, min_length=1, max_length=16)
    max_tokens: list[int] | None = Field(None, min_length=1, max_length=16)
    stop: list[list[str]] | None = Field(None, min_length=1, max_length=16)
    postprocess: list[PostprocessVariant] | None = Field(None, min_length=1, max_length=16)
    endpoints: list[EndpointVariant] | None = Field(None, min_length=1, max_length=8)

    @model_validator(mode="before")
    @classmethod
    def _known_dimensions(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"unknown space dimension(s) {unknown}; known: {', '.join(cls.model_fields)}")
        return data

    @field_validator(*DECODING_KNOBS)
    @classmethod
    def _decoding_values(cls, values: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        for value in values or []:
            try:
                Decoding.model_validate({info.field_name: value})
            except ValidationError as exc:
                raise ValueError(f"bad decoding value {value!r}: {exc.errors()[0]['msg']}") from exc
        return values

    @field_validator("postprocess", mode="before")
    @classmethod
    def _named_posts(cls, values: Any) -> Any:
        """A bare list of steps is a variant named `post<i>`."""
        if not isinstance(values, list):
            return values
        return [{"name": f"post{i}", "steps": v} if isinstance(v, list) else v for i, v in enumerate(values)]

    def as_event_space(self) -> dict[str, list[object]]:
        return self.model_dump(mode="json", exclude_none=True)


class ConfigSearchRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.config_search.requested"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    candidate: CandidateSpec
    task_spec: TaskSpec
    space: dict[str, list[object]] = Field(default_factory=dict, description="a SearchSpace as data")
    budget: Budget = Field(default_factory=Budget)
    requested_by: str | None = None


class ConfigVariantResult(BaseModel):
    """One evaluated variant: its full configuration as a derived candidate and its figures."""

    variant: str = Field(description="id within the run; 'default' is the base candidate as submitted")
    label: str = Field(description="the configuration in one line")
    params: dict[str, Any] = Field(default_factory=dict, description="the searched knobs' values")
    spec: CandidateSpec = Field(description="the variant as a candidate: parent_id is the base candidate, tags "
                                            "config_search_run and variant name the run and the variant; "
                                            "for 'default', the base candidate's own spec")
    n: int = Field(ge=0, description="dev items scored")
    rung: int = Field(ge=0, description="successive-halving rung reached (0 = first)")
    accuracy: float
    ci_low: float
    ci_high: float
    stability: float | None = Field(None, description="share of repeats agreeing with the modal answer")
    p95_ms: float = Field(description="p95 latency: under the finalists' short load test, else single calls")
    cost: float = Field(description="in the event's cost_unit")
    finalist: bool = False
    frontier: bool = False
    recommended: bool = False

    @property
    def is_default(self) -> bool:
        return self.variant == "default"


class ConfigSearchCompleted(EventData):
    event_type: ClassVar[str] = "io.challenger.config_search.completed"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    recommended: CandidateSpec | None = Field(None, description="the recommended variant, None when the default "
                                                                "config stays (or the search failed)")
    reason: str
    frontier: list[dict[str, object]] = Field(default_factory=list,
                                              description="deprecated, no longer filled: read `variants`")
    report_path: str | None = None
    status: Literal["completed", "failed"] = "completed"
    variants: list[ConfigVariantResult] = Field(default_factory=list, description="every evaluated variant")
    recommended_variant: str | None = Field(None, description="id of the recommended variant ('default' included)")
    cost_unit: str | None = Field(None, description="'$/1M tokens', or 'tokens per call' without a cost model")
    spent: dict[str, float] = Field(default_factory=dict)
