"""Events on `challenger.models`: a candidate's life in the registry. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

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


class ModelStageChanged(EventData):
    event_type: ClassVar[str] = "io.challenger.model.stage_changed"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    task: str
    from_stage: str
    to_stage: str
    actor: str
    reason: str = ""


class ModelApproved(EventData):
    event_type: ClassVar[str] = "io.challenger.model.approved"
    topic: ClassVar[str] = TOPIC

    candidate_id: str
    approver: str
    comment: str = ""


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
