"""A monitor killed mid-window rebuilds its open windows from the journal: the events behind
them were committed, so the broker will not deliver them again."""

from __future__ import annotations

from tests.unit.monitor.fakes import MemoryStore, Published
from tests.unit.monitor.synthetic import stream
from tests.unit.monitor.test_stream import WINDOW, feed, monitor


async def test_a_restarted_monitor_has_the_same_open_windows_and_closes_them_the_same() -> None:
    store = MemoryStore()
    events = stream(WINDOW + WINDOW // 2, shift_at=None)
    before = monitor(Published(), store)
    await feed(before, events)
    assert len(store.windows) == 1  # the first window closed; the second is half full

    after = monitor(Published(), store)  # the process was killed: a new one on the same store
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

    store, published = MemoryStore(), Published()
    a, b = 7 * WINDOW + 3, 9 * WINDOW + 5  # killed twice: with an alarm under way, then in its cool-down
    for segment in (events[:a], events[a:b], events[b:]):
        restarted = monitor(published, store)
        await restarted.restore()
        await feed(restarted, segment)

    fired = [e.data.rules for e in published.of_type("degradation.detected")]
    assert fired == [e.data.rules for e in control.of_type("degradation.detected")] and fired
