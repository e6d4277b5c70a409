"""The monitor's window journal, in its database (the outbox's: a SQLite file under
$CHALLENGER_HOME/monitor/, or the shared DATABASE_URL), so that ANY instance of the monitor
group can rebuild the open windows of a partition of `challenger.inference` it is given:

* `monitor_journal`: what the open windows hold (each ingested record, each late feature),
  filed under the consumer group (as the committed offsets it complements are), the partition
  and the route it came from, in order (`seq`). One transaction per consumed batch, committed
  before the batch's offsets are: a SIGKILL loses nothing, and the records delivered again
  after it are skipped by the windows (request id and event time). A batch's entries of one
  route are ONE row (a JSON list): a row per record cost PostgreSQL half the monitor's ingest
  rate (docs/benchmarks.md). When windows close, their route's rows are replaced by what is
  still open.
* `monitor_window_log`: every closed window (route, candidate, id, event times, records), written
  in the transaction that takes its records out of the open windows (so a window is either open
  in the journal or logged, whatever is killed when), and read by `challenger monitor reference`
  to pick a reference period, from any instance. Not filed by consumer group (a route's traffic
  is the same whoever windowed it). Bounded: past `keep_windows` windows of a route, its oldest
  rows go, in the same transaction.
* `monitor_alarm`: each (route, candidate) window stream's alarm counters and what the windows
  they count breached (the evidence an alarm quotes), read and written in ONE transaction per
  window judged, holding the row (`update_alarm`): whichever instance judges the stream's next
  window goes on from every step before it, also one a former owner of the partition took late.
* `monitor_reference`: each (route, candidate)'s reference window and its version, which
  every window judged checks (reading the records again only when it moved): a route's
  staging traffic (its reference) is keyed `<route>-staging`, so it may well sit on a
  partition another instance owns.

Migrated by Alembic with the rest of the monitor's database (services/monitor/migrations)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from services.monitor.domain.windows import Window

Row = tuple[int, str, dict[str, Any]]  # (partition of challenger.inference, route, entry)
T = TypeVar("T")
KEEP_WINDOWS = 2000  # closed windows logged per route (MonitorConfig.window_log)


def _now() -> datetime:
    return datetime.now(UTC)


class JournalEntry(SQLModel, table=True):
    __tablename__ = "monitor_journal"
    __table_args__ = (sa.Index("ix_monitor_journal_partition", "consumer", "kafka_partition"),
                      sa.Index("ix_monitor_journal_route", "consumer", "route"))

    seq: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True))
    consumer: str = Field(max_length=200)
    kafka_partition: int
    route: str = Field(max_length=200)
    entries: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # a JSON list; text: a feature may be NaN


class AlarmState(SQLModel, table=True):
    __tablename__ = "monitor_alarm"

    consumer: str = Field(primary_key=True, max_length=200)
    route: str = Field(primary_key=True, max_length=200)
    candidate_id: str = Field(primary_key=True, max_length=200)
    state: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    updated_at: datetime = Field(default_factory=_now)


class ReferenceWindow(SQLModel, table=True):
    __tablename__ = "monitor_reference"

    route: str = Field(primary_key=True, max_length=200)
    candidate_id: str = Field(primary_key=True, max_length=200)
    records: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # a JSON list of records
    version: int = 1  # +1 on every save
    updated_at: datetime = Field(default_factory=_now)


class LoggedWindow(SQLModel, table=True):
    __tablename__ = "monitor_window_log"
    __table_args__ = (sa.Index("ix_monitor_window_log_route", "route", "seq"),)

    seq: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True))
    route: str = Field(max_length=200)
    candidate_id: str = Field(max_length=200)
    window_id: str = Field(max_length=40)
    opened_at: float  # event time, epoch seconds
    closed_at: float
    records: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # a JSON list; text: a feature may be NaN


OWN_TABLES = frozenset({JournalEntry.__tablename__, AlarmState.__tablename__, ReferenceWindow.__tablename__,
                        LoggedWindow.__tablename__})
_JOURNAL: sa.Table = JournalEntry.__table__  # type: ignore[attr-defined]
_ALARM: sa.Table = AlarmState.__table__  # type: ignore[attr-defined]
_REFERENCE: sa.Table = ReferenceWindow.__table__  # type: ignore[attr-defined]
_LOG: sa.Table = LoggedWindow.__table__  # type: ignore[attr-defined]


def _upsert_statement(engine: Engine, table: sa.Table, key: dict[str, Any], changed: dict[str, Any],
                      on_update: dict[str, Any] | None = None) -> Any:
    insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(table)
    return insert.values(**key, **changed).on_conflict_do_update(index_elements=list(key),
                                                                 set_={**changed, **(on_update or {})})


def _upsert(engine: Engine, table: sa.Table, key: dict[str, Any], changed: dict[str, Any],
            on_update: dict[str, Any] | None = None, returning: sa.Column[Any] | None = None) -> Any:
    upsert = _upsert_statement(engine, table, key, changed, on_update)
    with engine.begin() as conn:
        if returning is None:
            conn.execute(upsert)
            return None
        return conn.execute(upsert.returning(returning)).scalar_one()


def _reference_key(route: str, candidate_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(_REFERENCE.c.route == route, _REFERENCE.c.candidate_id == candidate_id)


def reference_version(engine: Engine, route: str, candidate_id: str) -> int:
    """0 while there is none."""
    with engine.connect() as conn:
        version = conn.execute(sa.select(_REFERENCE.c.version).where(_reference_key(route, candidate_id)))
        return int(version.scalar_one_or_none() or 0)


def load_reference(engine: Engine, route: str, candidate_id: str) -> tuple[int, list[dict[str, Any]]]:
    """The version and the records ((0, []) while there is none)."""
    query = sa.select(_REFERENCE.c.version, _REFERENCE.c.records).where(_reference_key(route, candidate_id))
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    return (int(row.version), list(json.loads(row.records))) if row is not None else (0, [])


def save_reference(engine: Engine, route: str, candidate_id: str, records: Sequence[dict[str, Any]]) -> int:
    """Store `records` as the reference; returns its new version."""
    return int(_upsert(engine, _REFERENCE, {"route": route, "candidate_id": candidate_id},
                       {"records": json.dumps(list(records)), "updated_at": _now()},
                       {"version": _REFERENCE.c.version + 1}, returning=_REFERENCE.c.version))


def logged_windows(engine: Engine, route: str, since: float | None = None,
                   until: float | None = None) -> list[list[dict[str, Any]]]:
    """The records of each logged window of `route` (any candidate) open at some time in
    [since, until) (event time; None: unbounded), oldest first."""
    query = sa.select(_LOG.c.records).where(_LOG.c.route == route).order_by(_LOG.c.seq)
    if since is not None:
        query = query.where(_LOG.c.closed_at >= since)
    if until is not None:
        query = query.where(_LOG.c.opened_at < until)
    with engine.connect() as conn:
        return [list(json.loads(records)) for records in conn.execute(query).scalars()]


def relog_window(engine: Engine, window: Window) -> None:
    """Replace the records of `window`'s logged row (by the judged ones)."""
    key = (_LOG.c.route == window.key.route, _LOG.c.candidate_id == window.key.candidate_id,
           _LOG.c.window_id == window.window_id, _LOG.c.opened_at == window.opened_at)
    with engine.begin() as conn:
        conn.execute(_LOG.update().where(*key).values(records=_records(window)))


def _records(window: Window) -> str:
    return json.dumps([r.as_dict() for r in window.records])


class SqlJournal:
    """The journal of the consumer group `consumer`; it logs the last `keep_windows` closed
    windows of each route."""

    def __init__(self, engine: Engine, consumer: str, keep_windows: int = KEEP_WINDOWS) -> None:
        self.engine = engine
        self.consumer = consumer
        self.keep_windows = keep_windows

    def write(self, rows: Sequence[Row], *, clear_routes: Collection[str] = (),
              clear_partitions: Collection[int] = (), closed: Sequence[Window] = ()) -> None:
        """In one transaction: forget what `clear_routes` / `clear_partitions` held, then append
        `rows` (one row per partition and route, each route's entries in their order), and log
        the `closed` windows (dropping their routes' rows past `keep_windows`)."""
        grouped: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for p, route, entry in rows:
            grouped.setdefault((p, route), []).append(entry)
        ours = _JOURNAL.c.consumer == self.consumer
        with self.engine.begin() as conn:
            if clear_routes:
                conn.execute(_JOURNAL.delete().where(ours, _JOURNAL.c.route.in_(list(clear_routes))))
            if clear_partitions:
                conn.execute(_JOURNAL.delete().where(ours, _JOURNAL.c.kafka_partition.in_(list(clear_partitions))))
            if grouped:
                conn.execute(_JOURNAL.insert(), [
                    {"consumer": self.consumer, "kafka_partition": p, "route": route, "entries": json.dumps(entries)}
                    for (p, route), entries in grouped.items()])
            if closed:
                conn.execute(_LOG.insert(), [
                    {"route": w.key.route, "candidate_id": w.key.candidate_id, "window_id": w.window_id,
                     "opened_at": w.opened_at, "closed_at": w.closed_at, "records": _records(w)} for w in closed])
                for route in {w.key.route for w in closed}:
                    oldest_kept = (sa.select(_LOG.c.seq).where(_LOG.c.route == route).order_by(_LOG.c.seq.desc())
                                   .limit(1).offset(self.keep_windows - 1).scalar_subquery())
                    conn.execute(_LOG.delete().where(_LOG.c.route == route, _LOG.c.seq < oldest_kept))

    def entries(self, partitions: Collection[int] | None = None) -> list[Row]:
        """The journal of `partitions` (all: None), oldest first."""
        query = (sa.select(_JOURNAL.c.kafka_partition, _JOURNAL.c.route, _JOURNAL.c.entries)
                 .where(_JOURNAL.c.consumer == self.consumer).order_by(_JOURNAL.c.seq))
        if partitions is not None:
            query = query.where(_JOURNAL.c.kafka_partition.in_(list(partitions)))
        with self.engine.connect() as conn:
            return [(int(p), str(route), entry) for p, route, entries in conn.execute(query)
                    for entry in json.loads(entries)]

    def alarm(self, route: str, candidate_id: str) -> dict[str, Any] | None:
        query = sa.select(_ALARM.c.state).where(_ALARM.c.consumer == self.consumer, _ALARM.c.route == route,
                                                _ALARM.c.candidate_id == candidate_id)
        with self.engine.connect() as conn:
            state = conn.execute(query).scalar_one_or_none()
        return dict(state) if state is not None else None

    def update_alarm(self, route: str, candidate_id: str,
                     change: Callable[[dict[str, Any] | None], tuple[dict[str, Any], T]]) -> T:
        """In one transaction, holding the row (PostgreSQL; SQLite serialises its writers): store
        `change(state)`'s new state in place of `state` (None: none yet); returns its result. Two
        instances stepping one window stream at once (a partition just moved) wait for each other
        instead of overwriting each other's step. Not the very first row: two first inserts at
        once, the later wins."""
        key = {"consumer": self.consumer, "route": route, "candidate_id": candidate_id}
        query = (sa.select(_ALARM.c.state).where(*(_ALARM.c[k] == v for k, v in key.items())).with_for_update())
        with self.engine.begin() as conn:
            state = conn.execute(query).scalar_one_or_none()
            new, result = change(dict(state) if state is not None else None)
            conn.execute(_upsert_statement(self.engine, _ALARM, key, {"state": new, "updated_at": _now()}))
        return result
