"""The window journal in the monitor's database (SQLite and PostgreSQL): each route's rows come
back in their order, filed by partition and consumer group; clearing a route or a partition forgets
just that; alarm counters are upserted per (group, route, candidate); a reference window is
replaced whole."""

from __future__ import annotations

import json
from pathlib import Path

from services.monitor.adapters.journal import SqlJournal
from services.monitor.adapters.outbox import open_outbox
from services.monitor.adapters.store import MonitorStore
from services.monitor.domain.features import record_of
from services.monitor.domain.windows import WindowKey
from shared.settings import Settings
from tests.unit.monitor.synthetic import stream


def test_rows_by_partition_in_order_and_cleared_by_route_or_partition(db_url: str, tmp_path: Path) -> None:
    engine = open_outbox(Settings(home=tmp_path, DATABASE_URL=db_url))
    journal, other_group = SqlJournal(engine, "monitor"), SqlJournal(engine, "monitor-b")
    rows = [(p, f"r{p}", {"record": {"n": i, "feedback": float("nan")}}) for i in range(3) for p in (0, 1, 2)]
    journal.write(rows)
    other_group.write([(0, "r0", {"record": {"n": 99}})])

    by_route = sorted(rows, key=lambda r: r[1])  # each route's in order (a batch's are one database row)
    assert json.dumps(journal.entries()) == json.dumps(by_route)  # NaN (a feature not known yet) too
    assert json.dumps(journal.entries({1})) == json.dumps([r for r in rows if r[0] == 1])
    journal.write([(0, "r0", {"feature": ["r0", "q", "feedback", 1.0]})], clear_routes={"r0"})
    assert journal.entries({0}) == [(0, "r0", {"feature": ["r0", "q", "feedback", 1.0]})]
    journal.write([], clear_partitions={1, 2})
    assert journal.entries({1, 2}) == [] and len(journal.entries()) == 1
    assert other_group.entries() == [(0, "r0", {"record": {"n": 99}})]  # another group's journal is its own

    assert journal.alarm("r0", "c") is None
    journal.save_alarm("r0", "c", {"recent": [True], "quiet": 0})
    journal.save_alarm("r0", "c", {"recent": [True, False], "quiet": 2})
    assert journal.alarm("r0", "c") == {"recent": [True, False], "quiet": 2} and other_group.alarm("r0", "c") is None
    engine.dispose()


def test_a_reference_window_is_stored_whole_and_read_back(db_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=db_url)
    store = MonitorStore(tmp_path, open_outbox(settings))
    key = WindowKey("qa", "cand-a")
    records = [e.data for e in stream(30, shift_at=None)]
    assert store.load_reference(key) == [] and store.reference_version(key) == 0
    assert store.save_reference(key, [record_of(r, 0.0) for r in records[:10]]) == 1
    assert store.save_reference(key, [record_of(r, 1.0) for r in records[10:]]) == 2
    again = MonitorStore(tmp_path / "elsewhere", open_outbox(settings))  # another instance, same database
    version, held = again.versioned_reference(key)
    assert version == again.reference_version(key) == 2
    assert [r.request_id for r in held] == [r.request_id for r in records[10:]]
    store.engine.dispose()
    again.engine.dispose()
