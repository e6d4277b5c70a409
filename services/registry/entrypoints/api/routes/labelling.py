"""/labelling: the jobs that turn a degradation's captured samples into regression items, and
the queue of samples waiting for a person's label."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from schemas.events.degradations import Label
from services.registry.adapters.models import CapturedSample, LabellingJob
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep
from services.registry.handlers import labelling
from services.registry.handlers.lookup import get_or_404

router = APIRouter(prefix="/labelling", tags=["labelling"])


class LabelIn(BaseModel):
    expected: Label | None = Field(None, description="the right answer for the sample's prompt (the item's `expected`)")
    skip: bool = Field(False, description="true: the sample is no usable test; it gets no label")

    @model_validator(mode="after")
    def _one(self) -> LabelIn:
        if self.skip == (self.expected is not None):
            raise ValueError("give either `expected` or `skip: true`")
        return self


class JobOut(BaseModel):
    job: LabellingJob
    samples: list[CapturedSample]


@router.get("/jobs", response_model=list[LabellingJob])
def jobs(session: SessionDep, task: str | None = None, status: str | None = None) -> list[LabellingJob]:
    """Labelling jobs, newest first (status: labelling | awaiting_labels | augmenting | done)."""
    return labelling.list_jobs(session, task=task, status=status)


@router.get("/jobs/{job_id}", response_model=JobOut)
def job(session: SessionDep, job_id: str) -> JobOut:
    found = get_or_404(session, LabellingJob, job_id, "labelling job")
    return JobOut(job=found, samples=labelling.job_samples(session, job_id))


@router.get("/queue")
def queue(session: SessionDep, task: str | None = None,
          limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
    """Captured samples waiting for a person's label, oldest first."""
    return labelling.queue(session, task=task, limit=limit)


@router.post("/samples/{sample_id}", response_model=CapturedSample)
def label(session: SessionDep, user: CurrentUser, sample_id: int, body: LabelIn) -> CapturedSample:
    """Label (or skip) one queued sample; 409 when it is no longer pending."""
    require(user.role, Action.submit)
    sample = labelling.label_sample(session, sample_id=sample_id, expected=body.expected, skip=body.skip,
                                    person=user.name)
    session.commit()
    session.refresh(sample)
    return sample
