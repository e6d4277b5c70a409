"""The dashboard feed shows an event once, however often it is delivered."""

from __future__ import annotations

from schemas import new_event
from schemas.events.models import ModelApproved
from services.registry.entrypoints.dashboard.feed import EventFeed


def test_a_redelivered_event_is_shown_once_and_forgotten_with_the_window() -> None:
    feed = EventFeed(capacity=2)
    first, second, third = (new_event(ModelApproved(candidate_id="c", approver=f"a{i}"), source="t") for i in range(3))
    for event in (first, second, first):
        feed.add(event)
    assert [e["id"] for e in feed.after(0)] == [first.id, second.id]
    feed.add(third)  # pushes `first` out of the window
    feed.add(first)
    assert [e["id"] for e in feed.after(0)] == [third.id, first.id]
