"""The window journal in the monitor's database (SQLite and PostgreSQL): each route's rows come
back in their order, filed by partition and consumer group; clearing a route or a partition forgets
just that; alarm counters are read and written per (group, route, candidate) in one transaction; a
reference window is replaced whole; closed windows are logged with the journal write that closes
them, kept to the last N per route, and `challenger monitor reference` picks a period from that
log whichever instance wrote it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.monitor.adapters.journal import SqlJournal
from services.monitor.adapters.outbox import open_outbox
from services.monitor.adapters.store import MonitorStore
from services.monitor.domain.features import record_of
from services.monitor.domain.windows import Window, WindowKey
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
    seen: list[dict[str, object] | None] = []

    def step(breached: bool) -> Callable[[dict[str, Any] | None], tuple[dict[str, Any], int]]:
        def change(state: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
            seen.append(state)
            recent = [*(state or {"recent": []})["recent"], breached]
            return {"recent": recent, "quiet": 0}, len(recent)
        return change

    assert journal.update_alarm("r0", "c", step(True)) == 1
    assert journal.update_alarm("r0", "c", step(False)) == 2
    assert seen == [None, {"recent": [True], "quiet": 0}]
    assert journal.alarm("r0", "c") == {"recent": [True, False], "quiet": 0} and other_group.alarm("r0", "c") is None
    engine.dispose()


def test_a_reference_window_is_stored_whole_and_read_back(db_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=db_url)
    store = MonitorStore(open_outbox(settings))
    key = WindowKey("qa", "cand-a")
    records = [e.data for e in stream(30, shift_at=None)]
    assert store.load_reference(key) == [] and store.reference_version(key) == 0
    assert store.save_reference(key, [record_of(r, 0.0) for r in records[:10]]) == 1
    assert store.save_reference(key, [record_of(r, 1.0) for r in records[10:]]) == 2
    again = MonitorStore(open_outbox(Settings(home=tmp_path / "elsewhere", DATABASE_URL=db_url)))  # another instance
    version, held = again.versioned_reference(key)
    assert version == again.reference_version(key) == 2
    assert [r.request_id for r in held] == [r.request_id for r in records[10:]]
    store.engine.dispose()
    again.engine.dispose()


def closed_windows(route: str, n: int, size: int, candidate: str = "cand-a") -> list[Window]:
    """`n` consecutive windows of `size` records of `route`, one record a second from T0."""
    records = [record_of(e.data, e.time.timestamp()) for e in stream(n * size, shift_at=None, route=route,
                                                                      candidate=candidate)]
    return [Window(WindowKey(route, candidate), i + 1, records[i * size].at, records[(i + 1) * size - 1].at,
                   tuple(records[i * size:(i + 1) * size])) for i in range(n)]


def test_closed_windows_are_logged_with_the_journal_write_and_kept_to_the_last_n_per_route(
        db_url: str, tmp_path: Path) -> None:
    engine = open_outbox(Settings(home=tmp_path, DATABASE_URL=db_url))
    journal = SqlJournal(engine, "monitor", keep_windows=3)
    qa, qb = closed_windows("qa", 5, 4), closed_windows("qb", 1, 4)
    journal.write([(0, "qa", {"record": qa[0].records[0].as_dict()})])  # open
    journal.write([], clear_routes={"qa"}, closed=qa[:2])  # ... and closed: one transaction
    assert journal.entries() == []
    journal.write([], clear_routes={"qa", "qb"}, closed=[*qa[2:], *qb])
    # another instance of the group (another home, another consumer group even) reads the same log
    store = MonitorStore(open_outbox(Settings(home=tmp_path / "b", DATABASE_URL=db_url)))
    assert [[r.request_id for r in w] for w in store.logged_windows("qa")] == [
        [r.request_id for r in w.records] for w in qa[2:]]  # the two oldest went
    assert len(store.logged_windows("qb")) == 1
    period = store.logged_records("qa", qa[2].records[1].at, qa[3].records[2].at)  # [since, until)
    assert [r.request_id for r in period] == [r.request_id for r in (*qa[2].records[1:], *qa[3].records[:2])]

    judged = Window(qa[4].key, qa[4].seq, qa[4].opened_at, qa[4].closed_at,
                    tuple(r.with_feature("judge", 0.5) for r in qa[4].records))
    store.log_judged(judged)
    assert {r.features["judge"] for r in store.logged_windows("qa")[-1]} == {0.5}
    engine.dispose()
    store.engine.dispose()


def test_monitor_reference_picks_a_period_another_instance_logged(db_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`challenger monitor reference`, run anywhere the database is, finds the windows whichever
    instance closed them; its --json output is one row per candidate."""
    engine = open_outbox(Settings(home=tmp_path / "a", DATABASE_URL=db_url))
    windows = [*closed_windows("qa", 2, 5), *closed_windows("qa", 1, 5, candidate="cand-b")]
    SqlJournal(engine, "monitor").write([], closed=windows)
    engine.dispose()
    monkeypatch.setenv("CHALLENGER_HOME", str(tmp_path / "cli"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    start = datetime.fromtimestamp(windows[0].opened_at, UTC)

    result = CliRunner().invoke(app, ["monitor", "reference", "--route", "qa", "--since", start.isoformat(),
                                      "--until", (start + timedelta(seconds=7)).isoformat(), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"route": "qa", "candidate_id": "cand-a", "records": 7},
                                         {"route": "qa", "candidate_id": "cand-b", "records": 5}]
    store = MonitorStore(open_outbox(Settings(home=tmp_path / "b", DATABASE_URL=db_url)))
    assert [r.request_id for r in store.load_reference(WindowKey("qa", "cand-a"))] == [
        r.request_id for r in (*windows[0].records, *windows[1].records[:2])]
    store.engine.dispose()
