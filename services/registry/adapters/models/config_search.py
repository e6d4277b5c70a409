"""Read model of configuration searches: one row per run, from its request to its result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from services.registry.adapters.models.columns import json_field, now


class ConfigSearch(SQLModel, table=True):
    """`variants` holds the completed event's variants, each with `candidate_id`: the derived
    candidate registered for it (the base candidate for `default`)."""

    __tablename__ = "config_search"

    run_id: str = Field(primary_key=True, max_length=80)
    candidate_id: str = Field(index=True, max_length=40, description="the base candidate")
    status: str = Field(default="requested", index=True, max_length=20, description="requested | completed | failed")
    requested_by: str | None = Field(default=None, max_length=120)
    submit_recommended: bool = Field(default=False, description="enter the recommended variant into the pipeline")
    space: dict[str, Any] = json_field()
    budget: dict[str, Any] = json_field()
    reason: str = ""
    recommended_variant: str | None = Field(default=None, max_length=40)
    recommended_candidate_id: str | None = Field(default=None, max_length=40)
    cost_unit: str | None = Field(default=None, max_length=40)
    report_path: str | None = None
    spent: dict[str, Any] = json_field()
    variants: list[dict[str, Any]] = json_field(default_factory=list)
    requested_at: datetime = Field(default_factory=now)
    completed_at: datetime | None = None
