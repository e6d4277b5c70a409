"""Every event the registry publishes goes through here, into the outbox."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from schemas import Envelope, EventData, new_event
from shared import outbox

SOURCE = "/challenger/registry"


def emit(session: Session, data: EventData, *, cause: Envelope[Any] | None = None,
         correlation_id: str | None = None) -> Envelope[Any]:
    # An event caused by another keeps the cause's correlation id: one iteration, one trace.
    envelope = new_event(data, source=SOURCE, cause=cause, correlation_id=None if cause else correlation_id)
    outbox.add(session, envelope)
    return envelope
