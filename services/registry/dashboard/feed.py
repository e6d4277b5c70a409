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

    def add(self, envelope: Envelope[Any]) -> None:
        self._seq += 1
        self._events.append((self._seq, summarize(envelope)))
        while len(self._events) > self.capacity:
            self._events.popleft()

    def after(self, seq: int, limit: int = 200) -> list[dict[str, Any]]:
        return [{"seq": s, **e} for s, e in self._events if s > seq][-limit:]
