"""Red-team requests on a staging route stay out of the reference, so ordinary production
traffic is not compared with attacks; on a production route every request still counts."""

from __future__ import annotations

from pathlib import Path

from services.monitor.config import MonitorConfig
from services.monitor.domain.windows import counted
from services.monitor.handlers.monitor import Deps, Monitor
from tests.unit.monitor.fakes import MemoryJournal, MemoryStore, Published, mean_shift_drift
from tests.unit.monitor.synthetic import stream

WINDOW = 25


def monitor(published: Published, store: MemoryStore, journal: MemoryJournal | None = None) -> Monitor:
    config = MonitorConfig.model_validate({"window_size": WINDOW, "html_reports": False})
    return Monitor(config, Deps(publish=published, store=store, journal=journal or MemoryJournal(),
                                reports_dir=Path("/nonexistent"),
                                drift=mean_shift_drift))


def with_purpose(events: list, purpose: str | None) -> list:
    return [e.model_copy(update={"data": e.data.model_copy(update={"purpose": purpose})}) for e in events]


def test_only_red_team_requests_on_a_staging_route_are_left_out():
    assert not counted("qa-staging", "redteam")
    assert all(counted("qa-staging", p) for p in (None, "eval", "stability", "e2e"))
    assert counted("qa", "redteam") and counted("qa", None)


async def test_red_team_attacks_on_staging_never_reach_the_reference_or_raise_a_false_alarm():
    published, store, journal = Published(), MemoryStore(), MemoryJournal()
    m = monitor(published, store, journal)
    reviews = with_purpose(stream(2 * WINDOW, shift_at=None, route="qa-staging", prefix="s"), "e2e")
    attacks = with_purpose(stream(2 * WINDOW, shift_at=0, route="qa-staging", prefix="a"), "redteam")
    for review, attack in zip(reviews, attacks, strict=True):  # interleaved, as in an evaluation
        await m.handle(review)
        await m.handle(attack)
    assert [r.request_id for r in store.references["qa/cand-a"]] == [e.data.request_id for e in reviews]
    assert not journal.rows and not m.windows.open_records()
    await m.handle(attacks[0])  # redelivery-safe: still nothing
    await m.handle(attacks[0].model_copy(update={"id": "other"}))
    for e in stream(4 * WINDOW, shift_at=None, route="qa"):
        await m.handle(e)
    assert published == [], "production traffic like the reviews was taken for drift"


async def test_red_team_purpose_on_a_production_route_still_counts():
    published, store = Published(), MemoryStore()
    m = monitor(published, store)
    for e in stream(2 * WINDOW, shift_at=None, route="qa-staging", prefix="s"):
        await m.handle(e)
    for e in with_purpose(stream(3 * WINDOW, shift_at=0, route="qa"), "redteam"):
        await m.handle(e)
    assert published.of_type("degradation.detected"), "a client header hid production traffic from the monitor"
