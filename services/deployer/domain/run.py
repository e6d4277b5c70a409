"""One pipeline run: what the deployer knows about a candidate's way through the pipeline.
Persisted whole (as JSON) after every handled event, so a restarted deployer resumes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted
from schemas.events.loadtests import LoadtestCompleted
from schemas.task import TaskSpec
from services.deployer.domain.canary import Arm, dump_arm, load_arm
from shared.pipeline import Stage


class Phase(StrEnum):
    dev_eval = "dev_eval"
    loadtest = "loadtest"
    optimizing = "optimizing"
    staging = "staging"
    awaiting_approval = "awaiting_approval"
    canary = "canary"
    rolling_back = "rolling_back"
    done = "done"
    blocked = "blocked"


ACTIVE_CANARY = frozenset({Phase.canary, Phase.rolling_back})


class HistoryEntry(BaseModel):
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str
    action: str
    reason: str = ""


class Run(BaseModel):
    candidate_id: str
    task: str
    correlation_id: str
    spec: CandidateSpec
    task_spec: TaskSpec | None = None
    champion_id: str | None = None
    champion_spec: CandidateSpec | None = None
    champion_task_spec: TaskSpec | None = Field(None, description="the task as the champion runs it (its prompt)")
    stage: Stage = Stage.submitted
    expected: Stage = Field(Stage.submitted, description="the stage once our pending requests apply")
    phase: Phase = Phase.dev_eval
    evaluation: EvaluationCompleted | None = None
    loadtest: LoadtestCompleted | None = None
    optimized: bool = False
    approved_by: str | None = None
    canary_step: int = -1
    canary_step_start_n: int = 0
    rollback_weights: list[float] = Field(default_factory=list)
    champion_arm: dict[str, list[float]] = Field(default_factory=dict)
    candidate_arm: dict[str, list[float]] = Field(default_factory=dict)
    last_published: str | None = Field(None, description="decision@step of the last canary.step_changed")
    last_analysis: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def has_champion(self) -> bool:
        return self.champion_id is not None and self.champion_spec is not None

    def arms(self) -> tuple[Arm, Arm]:
        return load_arm(self.champion_arm), load_arm(self.candidate_arm)

    def with_arms(self, champion: Arm, candidate: Arm) -> Run:
        return self.model_copy(update={"champion_arm": dump_arm(champion), "candidate_arm": dump_arm(candidate)})

    def noted(self, actor: str, action: str, reason: str = "") -> Run:
        return self.model_copy(update={"history": [*self.history, HistoryEntry(actor=actor, action=action,
                                                                                reason=reason)]})

