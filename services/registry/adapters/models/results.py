"""Read-models projected from result events, and captured samples. (Which events were handled
is the kit inbox's `handled_event`, shared.kit.inbox.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.registry.adapters.models.columns import json_field, now

ResultKind = Literal["evaluation", "loadtest", "prompt_optimization", "deployment", "canary_step",
                     "fallback", "degradation"]


class ResultRecord(SQLModel, table=True):
    """One result event about a candidate; `payload` is the event's data as published."""

    __tablename__ = "result_record"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(index=True, max_length=30)
    run_id: str | None = Field(default=None, index=True, max_length=80)
    candidate_id: str = Field(index=True, max_length=40)
    status: str = Field(max_length=30, description="completed | failed | a decision or deployment status")
    summary: str = ""
    payload: dict[str, Any] = json_field()
    at: datetime = Field(default_factory=now)


class CapturedSample(SQLModel, table=True):
    """A failing production sample, negative-labelled; `chosen` is a preferred answer if known."""

    __tablename__ = "captured_sample"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=80)
    prompt: str
    response: str
    label: str = Field(default="negative", max_length=10)
    chosen: str | None = None
    route: str = Field(index=True, max_length=120)
    candidate_id: str = Field(index=True, max_length=40)
    prompt_version: str | None = Field(default=None, max_length=40)
    reason: str = ""
    degradation_id: str | None = Field(default=None, index=True, max_length=80)
    at: datetime = Field(default_factory=now)
    expected: Any = Field(default=None, sa_column=Column(JSON, nullable=True),
                          description="the label (what the right answer is); None until labelled")
    labelled_by: str | None = Field(default=None, max_length=160, description="teacher model or person")
    label_status: str = Field(default="pending", max_length=20, description="pending | labelled | skipped")
    chosen_by: str | None = Field(default=None, max_length=160, description="who gave `chosen` (fallback, person)")


class LabellingJob(SQLModel, table=True):
    """A degradation's captured samples on their way to the task's regression dataset."""

    __tablename__ = "labelling_job"

    id: str = Field(primary_key=True, max_length=80, description="the degradation id")
    task: str = Field(index=True, max_length=120)
    route: str = Field(max_length=120)
    candidate_id: str = Field(index=True, max_length=40)
    window_id: str | None = Field(default=None, max_length=80)
    window_start: datetime | None = None
    window_end: datetime | None = None
    mode: str = Field(max_length=10, description="teacher | people")
    status: str = Field(max_length=20, description="labelling | awaiting_labels | augmenting | done")
    dataset_id: str | None = Field(default=None, max_length=40, description="the regression version it made")
    note: str = ""
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

