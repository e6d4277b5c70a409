"""Events on `challenger.degradations`: drift and quality breaches, captured samples. Key: candidate id."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.envelope import EventData

TOPIC = "challenger.degradations"


class CapturedSample(BaseModel):
    request_id: str
    prompt: str
    response: str
    reason: str
    prompt_version: str | None = None
    captured_at: datetime | None = Field(None, description="when the failing request was logged")


class DegradationDetected(EventData):
    event_type: ClassVar[str] = "io.challenger.degradation.detected"
    topic: ClassVar[str] = TOPIC

    degradation_id: str
    candidate_id: str
    route: str
    rules: list[str]
    evidence: dict[str, float] = Field(default_factory=dict)
    samples: list[CapturedSample] = Field(default_factory=list)
    report_path: str | None = None


class SamplesAugmentationRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.samples_augmentation.requested"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    methods: list[str] = Field(default_factory=lambda: ["perturb", "distractor"])
    paraphraser_candidate_id: str | None = None


class SamplesAugmented(EventData):
    event_type: ClassVar[str] = "io.challenger.samples.augmented"
    topic: ClassVar[str] = TOPIC

    run_id: str
    candidate_id: str
    created: int
    removed_duplicates: int
