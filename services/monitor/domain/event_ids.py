"""Event ids derived from what an event is about, so the same alarm (a replayed window) or the
same run is the same event: the outbox stores it once and consumers dedupe it by id. Pure."""

from __future__ import annotations

import uuid

from schemas import Envelope
from schemas.envelope import D


def stable(envelope: Envelope[D], business_id: str) -> Envelope[D]:
    """`envelope` with an id that depends only on its type and `business_id`."""
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"challenger-monitor/{envelope.type}/{business_id}")
    return envelope.model_copy(update={"id": str(event_id)})
