"""A monitor killed mid-window rebuilds its open windows from the journal: the events behind
them were committed, so the broker will not deliver them again. The journal is filed by
partition, so an instance given a partition rebuilds just that partition's windows, and one
that loses a partition forgets them."""

from __future__ import annotations

from aiokafka.structs import TopicPartition

from schemas.events.inference import TOPIC
from services.monitor.handlers.monitor import Monitor
from shared.bus.consumer import _consuming
from tests.unit.monitor.fakes import MemoryJournal, MemoryStore, Published
from tests.unit.monitor.synthetic import stream
from tests.unit.monitor.test_stream import WINDOW, feed, monitor


async def test_a_restarted_monitor_has_the_same_open_windows_and_closes_them_the_same() -> None:
    store, journal = MemoryStore(), MemoryJournal()
    events = stream(WINDOW + WINDOW // 2, shift_at=None)
    before = monitor(Published(), store, journal)
    await feed(before, events)
    assert len(journal.windows) == 1  # the first window closed; the second is half full
    assert len(journal.rows) == WINDOW // 2  # the closed window's records left the journal

    after = monitor(Published(), store, journal)  # the process was killed: a new one on the same database
    restored = await after.restore()

    assert restored == WINDOW // 2
    assert after.windows.open_sizes() == before.windows.open_sizes()
    rest = stream(2 * WINDOW, shift_at=None)[WINDOW + WINDOW // 2:]
    await feed(after, rest)
    assert [len(w.records) for w in journal.windows] == [WINDOW, WINDOW]


async def test_a_restart_mid_stream_fires_the_same_alarms_as_no_restart() -> None:
    """Alarm counters survive too: a breach under way still counts, and a cool-down holds."""
    events = stream(12 * WINDOW, shift_at=6 * WINDOW)
    control = Published()
    await feed(monitor(control), events)

    store, journal, published = MemoryStore(), MemoryJournal(), Published()
    a, b = 7 * WINDOW + 3, 9 * WINDOW + 5  # killed twice: with an alarm under way, then in its cool-down
    for segment in (events[:a], events[a:b], events[b:]):
        restarted = monitor(published, store, journal)
        await restarted.restore()
        await feed(restarted, segment)

    fired = [e.data.rules for e in published.of_type("degradation.detected")]
    assert fired == [e.data.rules for e in control.of_type("degradation.detected")] and fired


async def feed_from(m: Monitor, partition: int, events: list) -> None:
    """Feed `events` as the consumer of `partition` does."""
    token = _consuming.set(TopicPartition(TOPIC, partition))
    try:
        await feed(m, events)
    finally:
        _consuming.reset(token)


async def test_a_partition_moves_with_its_open_windows_and_only_its_own() -> None:
    """Two instances, one database: `a` holds routes on partitions 0 and 1 mid-window; the group
    gives partition 1 to `b`. `b` rebuilds partition 1's window (not 0's), `a` forgets it, and
    `b` closes it with every record."""
    store, journal = MemoryStore(), MemoryJournal()
    half = WINDOW // 2
    mine, moved = stream(WINDOW, shift_at=None, route="qa"), stream(WINDOW, shift_at=None, route="qb")
    a, b = monitor(Published(), store, journal), monitor(Published(), store, journal)
    await a.assigned({TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)})
    await feed_from(a, 0, mine[:half])
    await feed_from(a, 1, moved[:half])

    await a.revoked({TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)})
    await a.assigned({TopicPartition(TOPIC, 0)})
    await b.assigned({TopicPartition(TOPIC, 1)})

    assert {k.route: n for k, n in a.windows.open_sizes().items()} == {"qa": half}
    assert {k.route: n for k, n in b.windows.open_sizes().items()} == {"qb": half}
    await feed_from(b, 1, moved[half:])
    [closed] = [w for w in journal.windows if w.key.route == "qb"]
    assert [r.request_id for r in closed.records] == [e.data.request_id for e in moved]
    assert {route for _, route, _ in journal.rows} == {"qa"}  # qb's rows left with its window


def windows_of_qb() -> tuple[list, list, list, list]:
    """Route qb: a reference window, an erroring one (error_rate), then shifted ones (drift_share,
    refusal_spike): an alarm fired on the third quotes the second's breach too."""
    events = stream(5 * WINDOW, shift_at=2 * WINDOW, route="qb")
    errors = [e.model_copy(update={"data": e.data.model_copy(update={"status": "error"})})
              for e in events[WINDOW:2 * WINDOW]]
    return events[:WINDOW], errors, events[2 * WINDOW:3 * WINDOW], events[3 * WINDOW:]


async def move_qb(a: Monitor, b: Monitor) -> None:
    """The group moves partition 1 (route qb's) from `a` to `b`."""
    await a.revoked({TopicPartition(TOPIC, 1)})
    await a.assigned(set())
    await b.assigned({TopicPartition(TOPIC, 1)})


async def test_the_evidence_of_breaches_under_way_moves_with_the_partition() -> None:
    """`a` judged an erroring window of qb, then the partition moved: the alarm `b` fires on the
    next (drifted) window quotes both windows' breaches, as one instance would have."""
    store, journal, fired_a, fired_b = MemoryStore(), MemoryJournal(), Published(), Published()
    a, b = monitor(fired_a, store, journal), monitor(fired_b, store, journal)
    reference, errors, shifted, _ = windows_of_qb()
    await a.assigned({TopicPartition(TOPIC, 1)})
    await feed_from(a, 1, reference + errors)
    await move_qb(a, b)
    await feed_from(b, 1, shifted)

    assert fired_a == []
    [alarm] = fired_b.of_type("degradation.detected")
    assert {"error_rate", "drift_share", "refusal_spike"} <= set(alarm.data.rules)


async def test_a_window_the_former_owner_analyses_late_counts_once_and_its_cool_down_holds() -> None:
    """`a` closes qb's erroring window but analyses it only after the partition moved to `b`,
    which meanwhile judged the next window. The alarm counters are read and written per window
    judged (never cached): `a`'s late step sees `b`'s and fires the alarm, and `b`'s next window
    sees that alarm's cool-down instead of firing a second one from counts that missed it."""
    store, journal, fired_a, fired_b = MemoryStore(), MemoryJournal(), Published(), Published()
    inline, b = monitor(fired_a, store, journal), monitor(fired_b, store, journal)
    a = Monitor(inline.cfg, inline.deps, queue_size=1)  # analyses closed windows beside ingest (here: by hand)
    reference, errors, shifted, more = windows_of_qb()
    await a.assigned({TopicPartition(TOPIC, 1)})
    await feed_from(a, 1, reference)
    window, cause, _ = a._queue.get_nowait()  # type: ignore[union-attr]
    await a.close(window, cause)  # the reference
    await feed_from(a, 1, errors)  # closed and queued, not analysed yet
    await move_qb(a, b)
    await feed_from(b, 1, shifted)
    assert fired_b == []  # one breaching window counted so far

    window, cause, with_drift = a._queue.get_nowait()  # type: ignore[union-attr]
    await a.close(window, cause, with_drift)  # late, on the former owner
    [alarm] = fired_a.of_type("degradation.detected")
    assert {"error_rate", "drift_share", "refusal_spike"} <= set(alarm.data.rules)
    await feed_from(b, 1, more[:WINDOW])  # breaching, but in the alarm's cool-down
    assert fired_b == []
