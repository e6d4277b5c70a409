"""Candidates, their stage history and approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from services.registry.adapters.models.columns import json_field, new_id, now


class CandidateBase(SQLModel):
    name: str = Field(index=True, max_length=120)
    task: str = Field(index=True, max_length=120)
    stage: str = Field(default="submitted", index=True, max_length=40)
    submitted_by: str = Field(max_length=120)
    parent_id: str | None = Field(default=None, max_length=40)


# At most one production candidate (the champion) per task, whatever writes the table: the
# database refuses a second one (migration 0006). Partial unique indexes exist on both SQLite
# and PostgreSQL.
ONE_PRODUCTION_PER_TASK = "uq_candidate_production_task"
_PRODUCTION = text("stage = 'production'")


class Candidate(CandidateBase, table=True):
    __table_args__ = (Index(ONE_PRODUCTION_PER_TASK, "task", unique=True, sqlite_where=_PRODUCTION,
                            postgresql_where=_PRODUCTION),)

    id: str = Field(default_factory=lambda: new_id("cand"), primary_key=True, max_length=40)
    spec: dict[str, Any] = json_field()
    # who submitted the root of this candidate's lineage (itself, or the candidate its parents
    # derive from): the four-eyes rule keeps them from approving a candidate derived from their own
    root_submitted_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)


class CandidatePublic(CandidateBase):
    id: str
    root_submitted_by: str | None = Field(None, description="who submitted the root of this candidate's lineage; "
                                          "the four-eyes rule keeps them from approving it")
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class StageHistoryBase(SQLModel):
    candidate_id: str = Field(index=True, foreign_key="candidate.id", max_length=40)
    from_stage: str | None = Field(default=None, max_length=40)
    to_stage: str = Field(max_length=40)
    actor: str = Field(max_length=120)
    reason: str = ""


class StageHistory(StageHistoryBase, table=True):
    __tablename__ = "stage_history"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now)
    policy: dict[str, Any] | None = json_field(lambda: None, nullable=True)  # PolicyApplied: what the gate judged


class StageHistoryPublic(StageHistoryBase):
    at: datetime
    policy: dict[str, Any] | None = None


class ApprovalPublic(SQLModel):
    candidate_id: str
    approver: str
    comment: str
    stage: str
    evidence: dict[str, str | None] | None = None


class Approval(SQLModel, table=True):
    """One approver's approval of the evidence named in `evidence` (domain/approvals.py); a re-run
    of that evidence voids it (`voided_at`, `void_reason`), and a void approval counts for nothing."""

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: str = Field(index=True, foreign_key="candidate.id", max_length=40)
    approver: str = Field(max_length=120)
    comment: str = ""
    at: datetime = Field(default_factory=now)
    evidence: dict[str, str | None] | None = json_field(default_factory=lambda: None, nullable=True)
    voided_at: datetime | None = None
    void_reason: str | None = None
