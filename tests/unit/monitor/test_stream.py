"""A synthetic stream with a known shift point: the alarm comes within two windows of the
shift; the unshifted control never alarms."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from schemas import new_event
from schemas.events.inference import FeedbackReceived
from services.monitor.config import MonitorConfig
from services.monitor.handlers.monitor import Deps, Monitor, Publish
from tests.unit.monitor.fakes import MemoryJournal, MemoryStore, Published, mean_shift_drift
from tests.unit.monitor.synthetic import stream

WINDOW = 25
SHIFT_AT = 6 * WINDOW  # the 7th window is the first shifted one
DETECT_WITHIN = 2      # k=2 of m=3: the second shifted window fires


def monitor(published: Publish, store: MemoryStore | None = None, journal: MemoryJournal | None = None,
            **cfg: object) -> Monitor:
    config = MonitorConfig.model_validate({"window_size": WINDOW, "html_reports": False, **cfg})
    return Monitor(config, Deps(publish=published, store=store or MemoryStore(), journal=journal or MemoryJournal(),
                                reports_dir=Path("/nonexistent"),
                                drift=mean_shift_drift))


async def feed(m: Monitor, events: list) -> None:
    for e in events:
        await m.handle(e)


async def test_shift_detected_within_two_windows() -> None:
    published = Published()
    m = monitor(published)
    events = stream(12 * WINDOW, shift_at=SHIFT_AT)
    fired_at = None
    for i, e in enumerate(events):
        await m.handle(e)
        if fired_at is None and published.of_type("degradation.detected"):
            fired_at = i
    assert fired_at is not None, "no alarm on the shifted stream"
    windows_after_shift = (fired_at - SHIFT_AT) // WINDOW + 1
    assert 1 <= windows_after_shift <= DETECT_WITHIN
    [deg] = published.of_type("degradation.detected")[:1]
    assert {"drift_share", "refusal_spike"} <= set(deg.data.rules)
    assert deg.data.samples and all("refusal" in s.reason for s in deg.data.samples)
    assert all(s.prompt_version == "pv1" and s.captured_at is not None for s in deg.data.samples)
    assert deg.data.window_id and deg.data.window_start <= min(s.captured_at for s in deg.data.samples)  # provenance
    assert deg.data.window_end >= max(s.captured_at for s in deg.data.samples)
    [alert] = published.of_type("alert.raised")[:1]
    assert alert.data.alert_id == deg.data.degradation_id and alert.causationid == deg.id
    share = REGISTRY.get_sample_value("challenger_monitor_drift_share",  # the "drift share per window" panel
                                      {"route": deg.data.route, "candidate": deg.data.candidate_id})
    assert share is not None and share > 0


async def test_a_replayed_window_publishes_the_same_events_under_the_same_ids() -> None:
    """The outbox stores a degradation once only if its events' ids depend on the window alone."""
    first, again = Published(), Published()
    events = stream(12 * WINDOW, shift_at=SHIFT_AT)
    await feed(monitor(first), events)
    await feed(monitor(again), events)
    assert first.of_type("degradation.detected") and len(first) == len(set(e.id for e in first))
    assert [(e.type, e.id, e.causationid) for e in again] == [(e.type, e.id, e.causationid) for e in first]


async def test_unshifted_control_never_alarms() -> None:
    published = Published()
    await feed(monitor(published), stream(12 * WINDOW, shift_at=None))
    assert published == []


async def test_staging_traffic_is_the_reference() -> None:
    published, store = Published(), MemoryStore()
    m = monitor(published, store)
    await feed(m, stream(2 * WINDOW, shift_at=None, route="qa-staging", prefix="s"))
    assert len(store.references["qa/cand-a"]) == 2 * WINDOW
    await feed(m, stream(3 * WINDOW, shift_at=0, route="qa"))  # shifted from the first production window
    assert published.of_type("degradation.detected"), "the staging reference did not catch the first windows"


async def test_a_challengers_staging_traffic_is_not_the_champions_reference() -> None:
    """The champion serves the route; a challenger (another model: other answers, tokens and
    latency, here a shifted stream) is evaluated on the staging route. The champion's windows
    stay judged against its own traffic: no alarm. The challenger's are judged against its own
    staging traffic."""
    published, store = Published(), MemoryStore()
    m = monitor(published, store)
    await feed(m, stream(2 * WINDOW, shift_at=None, route="qa", candidate="champ", prefix="c"))
    await feed(m, stream(2 * WINDOW, shift_at=0, route="qa-staging", candidate="chall", prefix="s"))
    await feed(m, stream(4 * WINDOW, shift_at=None, route="qa", candidate="champ", prefix="d"))
    assert published == [], "the champion was judged against the challenger's staging traffic"
    assert len(store.references["qa/champ"]) == WINDOW and len(store.references["qa/chall"]) == 2 * WINDOW
    await feed(m, stream(3 * WINDOW, shift_at=None, route="qa", candidate="chall", prefix="p"))
    assert {d.data.candidate_id for d in published.of_type("degradation.detected")} == {"chall"}


async def test_redelivered_events_are_counted_once() -> None:
    published, store, journal = Published(), MemoryStore(), MemoryJournal()
    m = monitor(published, store, journal)
    events = stream(WINDOW - 1, shift_at=None)
    await feed(m, events + events)
    assert journal.windows == []  # 24 distinct records: the window of 25 is still open
    assert m.status()["open_windows"] == [{"route": "qa", "candidate_id": "cand-a", "records": WINDOW - 1}]
    assert len(journal.rows) == WINDOW - 1  # and journaled once


async def test_a_request_id_reused_later_replaces_the_held_record() -> None:
    """Only the same event (same request id, same event time) is a redelivery: a later request
    that reused the id (a client's x-request-id) is another record, and the last one counts."""
    journal = MemoryJournal()
    m = monitor(Published(), journal=journal)
    first, *_ = stream(1, shift_at=None)
    retried = first.model_copy(update={"id": "another", "time": first.time + timedelta(seconds=1)})
    await feed(m, [first, first, retried])
    [held] = m.windows.open_records()
    assert held.at == retried.time.timestamp() and len(journal.rows) == 2


async def test_a_failed_journal_write_is_made_good_by_the_retry_of_its_batch() -> None:
    """The consumer retries a failed batch event by event; the windows skip what they hold, so
    the retry's journal write must bring back what the failed one lost."""

    class FlakyJournal(MemoryJournal):
        failures = 1

        def write(self, rows, **clear):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                raise OSError("database gone")
            super().write(rows, **clear)

    journal = FlakyJournal()
    m = monitor(Published(), journal=journal)
    events = stream(WINDOW - 1, shift_at=None)
    with pytest.raises(OSError):
        await m.handle_batch(events)
    for e in events:  # what EventConsumer does after a batch handler failed
        await m.handle(e)
    assert [r["request_id"] for r in journal.records] == [e.data.request_id for e in events]
    again = monitor(Published(), journal=journal)
    assert await again.restore() == WINDOW - 1


async def test_feedback_joins_its_record_and_a_drop_fires() -> None:
    published = Published()
    m = monitor(published, rules={"drift_share": None, "refusal_increase": None, "feedback_drop": 0.5},
                hysteresis={"k": 1, "m": 1})
    for n, e in enumerate(stream(2 * WINDOW, shift_at=None)):
        score = 1.0 if n < WINDOW else -1.0
        fb = FeedbackReceived(request_id=e.data.request_id, route="qa", score=score)
        await m.handle(new_event(fb, source="test").model_copy(update={"time": e.time}))  # before its record
        await m.handle(e)
    [deg] = published.of_type("degradation.detected")
    assert deg.data.rules == ["feedback_drop"] and deg.data.evidence["feedback_drop"] == pytest.approx(2.0)
    assert all(s.reason == "negative_feedback" for s in deg.data.samples)


async def test_queued_analysis_detects_the_same_shift() -> None:
    published = Published()
    config = MonitorConfig(window_size=WINDOW, html_reports=False)
    m = Monitor(config, Deps(publish=published, store=MemoryStore(), journal=MemoryJournal(),
                             reports_dir=Path("/nonexistent"), drift=mean_shift_drift), queue_size=2)
    worker = asyncio.create_task(m.analyse_forever())
    await feed(m, stream(SHIFT_AT + DETECT_WITHIN * WINDOW, shift_at=SHIFT_AT))
    await asyncio.wait_for(m.drain(), 10)
    worker.cancel()
    assert len(published.of_type("degradation.detected")) == 1


async def test_a_quiet_route_closes_its_time_window_on_tick() -> None:
    published, journal = Published(), MemoryJournal()
    m = monitor(published, journal=journal, window_size=1000, window_seconds=30)
    events = stream(5, shift_at=None)
    await feed(m, events)
    assert journal.windows == []
    await m.tick(events[0].time.timestamp() + 31)
    assert [len(w.records) for w in journal.windows] == [5]


async def test_a_drift_backlog_never_blocks_ingest_and_rules_still_run() -> None:
    published, calls = Published(), []

    def counting_drift(ref, cur, html):  # type: ignore[no-untyped-def]
        calls.append(len(cur))
        return mean_shift_drift(ref, cur, html)

    config = MonitorConfig(window_size=WINDOW, html_reports=False, hysteresis={"k": 1, "m": 1})
    m = Monitor(config, Deps(publish=published, store=MemoryStore(), journal=MemoryJournal(),
                             reports_dir=Path("/nonexistent"), drift=counting_drift), queue_size=2)
    await feed(m, stream(7 * WINDOW, shift_at=6 * WINDOW))  # no worker yet: 7 windows wait
    worker = asyncio.create_task(m.analyse_forever())
    await asyncio.wait_for(m.drain(), 10)
    worker.cancel()
    assert len(calls) == 1  # window 1 is the reference, window 2 queued with drift, 3..7 without
    [deg] = published.of_type("degradation.detected")
    assert "drift_share" not in deg.data.rules and "refusal_spike" in deg.data.rules


async def test_drift_compares_fixed_size_samples_however_large_the_window() -> None:
    published, sizes = Published(), []

    def sized_drift(ref, cur, html):  # type: ignore[no-untyped-def]
        sizes.append((len(ref), len(cur)))
        return mean_shift_drift(ref, cur, html)

    config = MonitorConfig(window_size=300, reference_size=600, drift_sample=40, html_reports=False)
    m = Monitor(config, Deps(publish=published, store=MemoryStore(), journal=MemoryJournal(),
                             reports_dir=Path("/nonexistent"), drift=sized_drift))
    await feed(m, stream(3 * 300, shift_at=None))  # window 1 becomes the reference, 2 and 3 are compared
    assert sizes == [(40, 40), (40, 40)]


async def test_a_batch_is_journaled_in_one_write_and_rebuilds_the_same_open_window() -> None:
    writes: list[int] = []

    class CountingJournal(MemoryJournal):
        def write(self, rows, **clear):  # type: ignore[no-untyped-def]
            writes.append(len(rows))
            super().write(rows, **clear)

    journal = CountingJournal()
    m = monitor(Published(), journal=journal)
    events = stream(WINDOW - 1, shift_at=None)
    await m.handle_batch(events)
    assert writes == [WINDOW - 1]
    again = monitor(Published(), journal=journal)
    assert await again.restore() == WINDOW - 1
    assert again.status()["open_windows"] == m.status()["open_windows"]
