"""Tasks, their datasets (content-addressed, immutable once used) and prompt versions (immutable)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.task import MetricName, TrafficProfile
from services.registry.adapters.models.columns import json_field, new_id, now

DatasetKind = Literal["golden", "silver", "captured", "regression", "redteam"]
PromptStyle = Literal["chat", "completion"]


class TaskBase(SQLModel):
    metric: str = Field(default="exact_match", max_length=40)
    metric_args: dict[str, Any] = json_field()
    prompt_template: str = "{input}"
    prompt_style: str = Field(default="chat", max_length=20)
    system_prompt: str | None = None
    description: str = ""
    teacher_id: str | None = Field(default=None, max_length=40, description=(
        "candidate whose answers may label captured samples (silver labels); None: people label them"))
    paraphraser_id: str | None = Field(default=None, max_length=40, description=(
        "candidate that paraphrases labelled captured samples into more regression items"))


TRAFFIC_HELP = ("requests per month and input/output tokens per request, for the monthly cost; "
                "none: the route's logged traffic, else the datasets' lengths")


class TaskCreate(TaskBase):
    name: str = Field(min_length=1, max_length=120, regex=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    metric: MetricName = "exact_match"
    prompt_style: PromptStyle = "chat"
    traffic: TrafficProfile | None = Field(default=None, description=TRAFFIC_HELP)


class TaskUpdate(SQLModel):
    metric: MetricName | None = None
    metric_args: dict[str, Any] | None = None
    prompt_template: str | None = None
    prompt_style: PromptStyle | None = None
    system_prompt: str | None = None
    description: str | None = None
    teacher_id: str | None = None
    paraphraser_id: str | None = None
    traffic: TrafficProfile | None = Field(default=None, description=TRAFFIC_HELP + "; null clears it")


class Task(TaskBase, table=True):
    name: str = Field(primary_key=True, max_length=120)
    champion_id: str | None = Field(default=None, max_length=40)
    traffic: dict[str, Any] | None = json_field(lambda: None, nullable=True)
    created_at: datetime = Field(default_factory=now)


class TaskPublic(TaskBase):
    name: str
    champion_id: str | None
    traffic: TrafficProfile | None = None
    created_at: datetime


class DatasetBase(SQLModel):
    name: str = Field(index=True, max_length=120)
    task: str = Field(index=True, foreign_key="task.name", max_length=120)
    kind: str = Field(default="golden", max_length=20, description="golden | silver | captured | regression | redteam")
    labelled_by: str | None = Field(default=None, max_length=40)


class Dataset(DatasetBase, table=True):
    __table_args__ = (UniqueConstraint("task", "name", "kind", "version"),)

    id: str = Field(default_factory=lambda: new_id("ds"), primary_key=True, max_length=40)
    version: str = Field(max_length=64, description="sha256 of the JSONL content")
    items: int
    uri: str
    fields: list[str] = json_field(list)
    used_by: str | None = Field(default=None, max_length=60, description="first evaluation that used it")
    created_at: datetime = Field(default_factory=now)


class DatasetPublic(DatasetBase):
    id: str
    version: str
    items: int
    uri: str
    fields: list[str]
    used_by: str | None
    created_at: datetime


class PromptVersionBase(SQLModel):
    task: str = Field(index=True, foreign_key="task.name", max_length=120)
    label: str = Field(min_length=1, max_length=120)
    template: str = Field(min_length=1)
    system_prompt: str | None = None
    prompt_style: str | None = Field(default=None, max_length=20, description="chat | completion; None: the task's")
    parent_id: str | None = Field(default=None, max_length=40)


class PromptVersionCreate(PromptVersionBase):
    prompt_style: PromptStyle | None = None


class PromptVersion(PromptVersionBase, table=True):
    __tablename__ = "prompt_version"

    id: str = Field(default_factory=lambda: new_id("pv"), primary_key=True, max_length=40)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=now)


class PromptVersionPublic(PromptVersionBase):
    id: str
    created_by: str
    created_at: datetime
