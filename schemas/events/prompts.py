"""Events on `challenger.prompts`: prompt optimization and configuration search. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
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


class ConfigSearchRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.config_search.requested"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    candidate: CandidateSpec
    task_spec: TaskSpec
    space: dict[str, list[object]] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)


class ConfigSearchCompleted(EventData):
    event_type: ClassVar[str] = "io.challenger.config_search.completed"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    recommended: CandidateSpec | None = None
    reason: str
    frontier: list[dict[str, object]] = Field(default_factory=list)
    report_path: str | None = None
