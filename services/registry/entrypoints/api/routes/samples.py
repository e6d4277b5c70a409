"""/samples (captured production samples, negative-labelled) and /feedback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from schemas.events.inference import FeedbackReceived
from services.registry.adapters.models import CapturedSample
from services.registry.domain.exports import ExportFormat
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep
from services.registry.handlers.samples import export_samples, list_samples, record_feedback, set_chosen

router = APIRouter(tags=["samples"])


class Accepted(BaseModel):
    event_id: str


class ChosenIn(BaseModel):
    chosen: str = Field(description="the preferred answer (e.g. the fallback's)")


@router.get("/samples", response_model=list[CapturedSample])
def samples(session: SessionDep, candidate_id: str | None = None, route: str | None = None,
            degradation_id: str | None = None, limit: int = Query(500, ge=1, le=10_000)) -> list[Any]:
    return list_samples(session=session, candidate_id=candidate_id, route=route, degradation_id=degradation_id,
                        limit=limit)


@router.get("/samples/export", response_class=PlainTextResponse)
def export(session: SessionDep, format: ExportFormat = "dpo", candidate_id: str | None = None,
           route: str | None = None) -> PlainTextResponse:
    """JSONL training data from the samples that have a preferred answer."""
    body = export_samples(session=session, fmt=format, candidate_id=candidate_id, route=route)
    return PlainTextResponse(body, media_type="application/jsonl")


@router.patch("/samples/{sample_id}", response_model=CapturedSample)
def label(session: SessionDep, user: CurrentUser, sample_id: int, body: ChosenIn) -> Any:
    require(user.role, Action.submit)
    sample = set_chosen(session=session, sample_id=sample_id, chosen=body.chosen, by=user.name)
    session.commit()
    return sample


@router.post("/feedback", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
def feedback(session: SessionDep, user: CurrentUser, body: FeedbackReceived) -> Accepted:
    require(user.role, Action.submit)
    envelope = record_feedback(session=session, feedback=body)
    session.commit()
    return Accepted(event_id=envelope.id)
