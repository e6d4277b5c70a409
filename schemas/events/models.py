"""Events on `challenger.models`: a candidate's life in the registry. Key: candidate id."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.task import TaskSpec

TOPIC = "challenger.models"


class ModelSubmitted(EventData):
    event_type: ClassVar[str] = "io.challenger.model.submitted"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    spec: CandidateSpec
    submitted_by: str
    task_spec: TaskSpec | None = None
    champion_id: str | None = None
    champion_spec: CandidateSpec | None = None
    champion_task_spec: TaskSpec | None = Field(
        None, description="the task as the champion runs it (its prompt version resolved), for serving it alike")


class PolicyApplied(BaseModel):
    """The policy a gate judged with: the section in force for the task and its effective values."""

    section: str = Field(description="`defaults`, or `tasks.<name>` when the task has its own section")
    values: dict[str, dict[str, Any]] = Field(default_factory=dict, description="the judged dimensions' values")
    overridden: list[str] = Field(default_factory=list,
                                  description="the values the task's own section set, as `dimension.key`")


POLICY_DESCRIPTION = "the policy the deployer's gate judged this move with; none for an operator's move"


class ModelStageChanged(EventData):
    """One applied move. A promotion is published as two or three (the old standby retired, the
    champion to standby, the candidate to production); a production rollback as two (the
    candidate rolled back, its successor to production)."""

    event_type: ClassVar[str] = "io.challenger.model.stage_changed"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    task: str
    from_stage: str
    to_stage: str = Field(description="a stage of shared/pipeline.py: submitted, evaluating, load_testing, "
                                      "prompt_optimizing, dev_passed, staging, awaiting_approval, approved, canary, "
                                      "production, standby (the previous champion, the route's fallback), "
                                      "rejected, rolled_back, retired")
    actor: str
    reason: str = ""
    policy: PolicyApplied | None = Field(None, description=POLICY_DESCRIPTION)


class ModelApproved(EventData):
    event_type: ClassVar[str] = "io.challenger.model.approved"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    approver: str
    comment: str = ""
    evidence: dict[str, str | None] | None = Field(
        None, description="run ids of the results approved, by kind (evaluation, loadtest, red_team, e2e); a "
                          "newer result of any of these kinds voids the approval")


class StageChangeRequested(EventData):
    """Command: ask the registry (the single writer of stages) to move a candidate. A move can
    carry moves of the task's other candidates, applied in the same transaction: a promotion
    makes the champion `standby`; a production candidate rolled back hands production (and the
    championship) to its successor."""

    event_type: ClassVar[str] = "io.challenger.stage_change.requested"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    to_stage: str
    actor: str
    reason: str = ""
    successor_id: str | None = Field(
        None, description="rolling back a production candidate: the candidate that takes over production "
                          "(the one the gateway now serves, e.g. after a fallback); none: the task's standby")
    policy: PolicyApplied | None = Field(None, description=POLICY_DESCRIPTION)


class StageChangeRejected(EventData):
    event_type: ClassVar[str] = "io.challenger.stage_change.rejected"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    to_stage: str
    actor: str
    reason: str


class ChampionChanged(EventData):
    event_type: ClassVar[str] = "io.challenger.champion.changed"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    task: str
    previous_id: str | None = None
    actor: str = Field(default="registry")
