"""Events on `challenger.evaluations`: accuracy, stability and security runs. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.task import TaskSpec

TOPIC = "challenger.evaluations"

EvalKind = Literal["accuracy", "stability", "security", "e2e"]
Verdict = Literal["better", "worse", "no_significant_difference"]


class EvaluationRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.requested"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    champion_id: str | None = None
    task: str
    candidate: CandidateSpec
    champion: CandidateSpec | None = None
    task_spec: TaskSpec
    kinds: list[EvalKind] = Field(default_factory=lambda: ["accuracy", "stability", "security"])
    stage: Literal["dev", "staging"] = "dev"
    max_items: int | None = Field(None, ge=1)
    stability_repeats: int = Field(3, ge=2, le=50)
    stability_temperature: float = Field(0.7, ge=0.0, le=2.0)
    concurrency: int = Field(8, ge=1, le=1024)
    target_url: str | None = Field(None, description="call this URL instead of the candidate's endpoint")


class MetricComparison(BaseModel):
    dataset: str
    metric: str
    n: int
    candidate_score: float
    champion_score: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    test: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    verdict: Verdict | None = None


class StabilitySummary(BaseModel):
    repeats: int
    mean_agreement: float
    exact_match_consistency: float
    fleiss_kappa: float | None = None
    accuracy_spread: float
    flipping_items: list[str] = Field(default_factory=list)


class SecuritySummary(BaseModel):
    attacks: int
    attack_success_rate: float
    by_category: dict[str, float] = Field(default_factory=dict)


class EvaluationCompleted(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.completed"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    champion_id: str | None = None
    task: str
    stage: Literal["dev", "staging"] = "dev"
    accuracy: list[MetricComparison] = Field(default_factory=list)
    verdict: Verdict | None = None
    stability: StabilitySummary | None = None
    security: SecuritySummary | None = None
    e2e_passed: bool | None = None
    report_path: str | None = None


class EvaluationFailed(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.failed"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    reason: str
