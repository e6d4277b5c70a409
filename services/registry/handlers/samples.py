"""Captured production samples (negative-labelled) and user feedback."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from schemas import Envelope
from schemas.events.inference import FeedbackReceived
from services.registry.handlers.emit import emit
from services.registry.models import CapturedSample


def list_samples(*, session: Session, candidate_id: str | None = None, route: str | None = None,
                 degradation_id: str | None = None, limit: int = 500) -> list[CapturedSample]:
    query = select(CapturedSample).order_by(col(CapturedSample.id).desc()).limit(limit)
    if candidate_id:
        query = query.where(CapturedSample.candidate_id == candidate_id)
    if route:
        query = query.where(CapturedSample.route == route)
    if degradation_id:
        query = query.where(CapturedSample.degradation_id == degradation_id)
    return list(session.exec(query).all())


def record_feedback(*, session: Session, feedback: FeedbackReceived) -> Envelope[Any]:
    return emit(session, feedback)
