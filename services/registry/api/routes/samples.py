"""/samples (captured production samples, negative-labelled) and /feedback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel

from schemas.events.inference import FeedbackReceived
from services.registry.api.deps import CurrentUser, SessionDep
from services.registry.domain.roles import Action, require
from services.registry.handlers.samples import list_samples, record_feedback
from services.registry.models import CapturedSample

router = APIRouter(tags=["samples"])


class Accepted(BaseModel):
    event_id: str


@router.get("/samples", response_model=list[CapturedSample])
def samples(session: SessionDep, candidate_id: str | None = None, route: str | None = None,
            degradation_id: str | None = None, limit: int = 500) -> list[Any]:
    return list_samples(session=session, candidate_id=candidate_id, route=route, degradation_id=degradation_id,
                        limit=limit)


@router.post("/feedback", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
def feedback(session: SessionDep, user: CurrentUser, body: FeedbackReceived) -> Accepted:
    require(user.role, Action.submit)
    envelope = record_feedback(session=session, feedback=body)
    session.commit()
    return Accepted(event_id=envelope.id)
