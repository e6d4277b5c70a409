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
    assert len(store.windows) == 1  # the first window closed; the second is half full
    assert len(journal.rows) == WINDOW // 2  # the closed window's records left the journal

    after = monitor(Published(), store, journal)  # the process was killed: a new one on the same database
    restored = await after.restore()

    assert restored == WINDOW // 2
    assert after.windows.open_sizes() == before.windows.open_sizes()
    rest = stream(2 * WINDOW, shift_at=None)[WINDOW + WINDOW // 2:]
    await feed(after, rest)
    assert [len(w.records) for w in store.windows] == [WINDOW, WINDOW]


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
    [closed] = [w for w in store.windows if w.key.route == "qb"]
    assert [r.request_id for r in closed.records] == [e.data.request_id for e in moved]
    assert {route for _, route, _ in journal.rows} == {"qa"}  # qb's rows left with its window
