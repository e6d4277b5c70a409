"""Events on `challenger.alerts`: what an operator must see. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.envelope import EventData

TOPIC = "challenger.alerts"


class AlertRaised(EventData):
    event_type: ClassVar[str] = "io.challenger.alert.raised"
    topic: ClassVar[str] = TOPIC

    alert_id: str
    candidate_id: str
    severity: Literal["info", "warning", "critical"]
    title: str
    detail: str = ""
    route: str | None = None
