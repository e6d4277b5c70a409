"""Captured production samples (negative-labelled) and user feedback."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from schemas import Envelope
from schemas.events.inference import FeedbackReceived
from services.registry.adapters.models import CapturedSample
from services.registry.domain.errors import NotFound
from services.registry.domain.exports import ExportFormat, export_line
from services.registry.domain.labelling import preferred
from services.registry.handlers.emit import emit


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


def set_chosen(*, session: Session, sample_id: int, chosen: str, by: str) -> CapturedSample:
    sample = session.get(CapturedSample, sample_id)
    if sample is None:
        raise NotFound(f"sample {sample_id} not found")
    sample.chosen, sample.chosen_by = chosen, by
    session.add(sample)
    return sample


def export_samples(*, session: Session, fmt: ExportFormat, candidate_id: str | None = None,
                   route: str | None = None) -> str:
    """JSONL of the samples that have a preferred answer (given, or their label)."""
    rows = list_samples(session=session, candidate_id=candidate_id, route=route, limit=100_000)
    lines = [export_line(fmt, prompt=s.prompt, response=s.response, chosen=chosen, chosen_from=source)
             for s in reversed(rows) for chosen, source in [preferred(s.expected, s.chosen, s.chosen_by)]]
    return "".join(json.dumps(line) + "\n" for line in lines if line is not None)


def record_feedback(*, session: Session, feedback: FeedbackReceived) -> Envelope[Any]:
    return emit(session, feedback)
