"""A bounded in-memory feed of recent events for the dashboard's live stream."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from schemas import Envelope

KEY_FIELDS = ("candidate_id", "route", "to_stage", "verdict", "decision", "weight_pct", "status", "reason",
              "severity", "title", "accepted")


def summarize(envelope: Envelope[Any]) -> dict[str, Any]:
    data = envelope.data.model_dump(mode="json")
    return {
        "id": envelope.id,
        "time": envelope.time.isoformat(),
        "type": envelope.type.removeprefix("io.challenger."),
        "subject": envelope.subject,
        "correlationid": envelope.correlationid,
        "fields": {k: data[k] for k in KEY_FIELDS if data.get(k) not in (None, "", [])},
    }


@dataclass
class EventFeed:
    capacity: int = 500
    _events: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)
    _seq: int = 0
    _ids: set[str] = field(default_factory=set)

    def add(self, envelope: Envelope[Any]) -> None:
        """Append, unless the feed already shows this event (a redelivery, or an outbox
        sending again what a restarted broker lost)."""
        if envelope.id in self._ids:
            return
        self._seq += 1
        self._events.append((self._seq, summarize(envelope)))
        self._ids.add(envelope.id)
        while len(self._events) > self.capacity:
            self._ids.discard(self._events.popleft()[1]["id"])

    def after(self, seq: int, limit: int = 200) -> list[dict[str, Any]]:
        return [{"seq": s, **e} for s, e in self._events if s > seq][-limit:]
