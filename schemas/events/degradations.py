"""Events on `challenger.degradations`: drift and quality breaches, captured samples. Key: candidate id."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.task import TaskSpec

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
    window_id: str | None = Field(None, description="the monitor window that fired (provenance of the samples)")
    window_start: datetime | None = None
    window_end: datetime | None = None


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


Label = str | int | float | bool | list[str] | dict[str, object]


class LabelledSample(BaseModel):
    """One captured sample of a labelling job; `expected` is its label once someone gave one."""

    sample_id: str
    prompt: str
    response: str
    expected: Label | None = None
    labelled_by: str | None = Field(None, description="teacher model (name@version (model)) or person")
    chosen: str | None = Field(None, description="a preferred answer (e.g. the fallback's) for SFT/DPO")
    chosen_by: str | None = None


class SampleVariant(BaseModel):
    """An augmentation of a labelled sample: same label, new input."""

    origin_id: str
    method: str
    prompt: str


class LabellingRequested(EventData):
    """The registry opened a labelling job for a degradation's captured samples: the monitor
    labels the unlabelled ones with `teacher` (when the task allows silver labels), asks
    `fallback` for preferred answers, augments the labelled ones (paraphrases when
    `paraphraser` is set) and answers with samples.labelled."""

    event_type: ClassVar[str] = "io.challenger.labelling.requested"
    topic: ClassVar[str] = TOPIC

    job_id: str = Field(description="the degradation id")
    candidate_id: str
    task_spec: TaskSpec
    samples: list[LabelledSample]
    teacher: CandidateSpec | None = None
    paraphraser: CandidateSpec | None = None
    fallback: CandidateSpec | None = None
    methods: list[str] = Field(default_factory=lambda: ["distractor", "paraphrase"])


class SamplesLabelled(EventData):
    """The monitor's answer to labelling.requested: labels (with who gave them), preferred
    answers and augmentations; the registry turns them into a new `regression` dataset version."""

    event_type: ClassVar[str] = "io.challenger.samples.labelled"
    topic: ClassVar[str] = TOPIC

    job_id: str
    candidate_id: str
    samples: list[LabelledSample]
    variants: list[SampleVariant] = Field(default_factory=list)
    unlabelled: int = Field(0, description="samples the teacher gave no label (left to people)")
