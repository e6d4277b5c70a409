"""The transactional outbox: events are stored in the same DB transaction as the state change
that caused them, then relayed to Kafka in order by `OutboxRelay`.

A broker that is down only delays events: the relay keeps the rows, retries with backoff,
re-creates the catalogue's topics when the broker comes back (the embedded broker forgets
them on restart) and marks rows published only after the broker acknowledged them.

A broker that LOST acknowledged events (the embedded broker keeps nothing across a restart;
a real one can truncate after an unclean leader election) is recovered from here too. Each
sent row keeps the (partition, offset) the broker acknowledged, for a retention window. The
relay checks, periodically and after reconnecting, that each partition still holds the last
row it was acknowledged there (the end offset, then the event id at that offset); it also
notices an acknowledgement at an offset it already had. Rows the log lost are queued again
and re-sent in their original order with their original event ids; consumers dedupe by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.structs import TopicPartition
from sqlalchemy import JSON, BigInteger, Column, delete, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, func, select

from schemas import EVENT_TYPES, Envelope
from shared.bus.log_probe import LogProbe
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics

log = logging.getLogger(__name__)

# Two relays on PostgreSQL: the advisory lock lets only one publish at a time, so per-key
# order holds; SKIP LOCKED keeps a second relay from waiting on (or re-sending) held rows.
_RELAY_LOCK_ID = 0x0C4A11E9
DEFAULT_RETENTION_S = 24 * 3600.0


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=64)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    envelope: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now)
    published_at: datetime | None = Field(default=None, index=True)
    acked_partition: int | None = Field(default=None, description="where the broker acknowledged the row")
    acked_offset: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


def _row(envelope: Envelope[Any]) -> OutboxEvent:
    return OutboxEvent(event_id=envelope.id, topic=envelope.topic, key=envelope.key,
                       envelope=envelope.model_dump(mode="json"))


def add(session: Session, envelope: Envelope[Any]) -> OutboxEvent:
    """Stage `envelope` for publishing; it is sent only if the caller's transaction commits."""
    row = _row(envelope)
    session.add(row)
    return row


def add_if_absent(session: Session, envelope: Envelope[Any]) -> bool:
    """`add`, unless a row with the envelope's id is already there (staged, sent or being sent):
    an event whose id is derived from what it is about, produced again, is then a no-op rather
    than an IntegrityError. Returns whether a row was added."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    values = _row(envelope).model_dump(exclude={"seq"})
    statement = (insert(OutboxEvent).values(**values).on_conflict_do_nothing(index_elements=["event_id"])
                 .returning(col(OutboxEvent.seq)))
    return session.exec(statement).first() is not None  # type: ignore[call-overload]


def to_envelope(row: OutboxEvent) -> Envelope[Any]:
    cls = EVENT_TYPES[row.envelope["type"]]
    return Envelope[cls].model_validate(row.envelope)  # type: ignore[valid-type]


def pending_count(engine: Engine) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
        return int(session.exec(query).one())


# ---- what a partition lost (pure) --------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A retained row as the broker acknowledged it."""

    seq: int
    event_id: str
    offset: int


def replay_from(end: int | None, last: Sent, at_last: str | None,
                anchor: Sent | None = None, at_anchor: str | None = None) -> int | None:
    """From which offset a partition lost our rows, or None if it holds them all (or cannot
    tell yet: a record the log has but the probe did not read in time is asked about again).

    `end` is the log's end offset as the broker reports it (None: no such topic or partition);
    `last` the latest row acknowledged there and `at_last` the event id the log holds at its
    offset (None: nothing read there). If the log ends before `last`, `anchor` is the latest
    row below both and `at_anchor` what the log holds at its offset. A log is append-only: if
    it still holds a row, it holds every row before it; if it holds another event at a row's
    offset, it is another log altogether."""
    if end is None or end == 0:
        return 0
    if at_last is not None:
        return None if at_last == last.event_id else 0
    if end > last.offset:
        return None  # the log has a record there; the probe did not get to read it
    if anchor is None:
        return 0
    if at_anchor is None:
        return None  # the anchor lies below the end, so the same holds for it
    return anchor.offset + 1 if at_anchor == anchor.event_id else 0


# ---- the relay ---------------------------------------------------------------------------


class OutboxRelay:
    """Publish unpublished outbox rows in `seq` order; one batch at a time, awaited in order.

    Sent rows are kept `retention_s` (so a broker that loses them can be given them again),
    then pruned; the log is checked every `check_every_s` and after each reconnection."""

    def __init__(self, engine: Engine, producer: EventProducer, *, bootstrap: str | None = None,
                 batch_size: int = 100, idle_s: float = 0.2, max_backoff_s: float = 5.0,
                 retention_s: float = DEFAULT_RETENTION_S, check_every_s: float = 5.0) -> None:
        self._engine = engine
        self._producer = producer
        self._bootstrap = bootstrap or producer.bootstrap
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._max_backoff_s = max_backoff_s
        self._retention = timedelta(seconds=retention_s)
        self._check_every_s = check_every_s
        self._postgres = engine.dialect.name == "postgresql"
        self._checked_at = float("-inf")
        self.published = 0
        self.failures = 0
        self.replayed = 0
        self.pruned = 0
        self.check_failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                if backoff:
                    await ensure_topics(self._bootstrap)  # the embedded broker forgets them on restart
                if backoff or time.monotonic() - self._checked_at >= self._check_every_s:
                    await self._check_log_or_carry_on()
                sent = await self.relay_once()
                backoff = 0.0
            except Exception as exc:  # broker down, topic missing, DB busy: keep the rows, retry
                self.failures += 1
                backoff = min(max(backoff * 2, 0.25), self._max_backoff_s)
                log.warning("outbox relay: %s: %s; retrying in %.1fs", type(exc).__name__, exc, backoff)
                await _sleep_or_stop(stop, backoff)
                continue
            if sent == 0:
                await _sleep_or_stop(stop, self._idle_s)

    async def relay_once(self) -> int:
        """Publish one batch; return how many rows were published.

        Only the acknowledged prefix is marked: a row after the first failure is sent again
        later (at-least-once; consumers dedupe by event id), never skipped or reordered."""
        with Session(self._engine) as session:
            rows = self._claim(session)
            if not rows:
                return 0
            futures = [await self._producer.publish_nowait(to_envelope(r), topic=r.topic) for r in rows]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            done = results.index(failure) if failure is not None else len(rows)
            when = _now()
            for row, meta in zip(rows[:done], results[:done], strict=True):
                row.published_at, row.acked_partition, row.acked_offset = when, meta.partition, meta.offset
                session.add(row)
            requeued = self._requeue_regressed(session, rows[:done])
            session.commit()
        self.published += done
        self.replayed += requeued
        if failure is not None:
            raise failure
        return done

    async def check_log(self) -> int:
        """Queue again the sent rows the broker's log no longer holds; prune rows past retention.
        Return how many rows were queued again. No write before the broker has answered (a
        SQLite writer would hold the database that long); on PostgreSQL the relay lock keeps a
        second relay from checking, or sending, meanwhile."""
        self._checked_at = time.monotonic()
        requeued = 0
        with Session(self._engine) as session:
            if not self._locked(session):
                return 0
            for tp, (start, last) in (await self._lost(session)).items():
                requeued += self._requeue(session, tp, start, last.seq)
            self.pruned += self._prune(session)
            session.commit()
        self.replayed += requeued
        return requeued

    async def _lost(self, session: Session) -> dict[TopicPartition, tuple[int, Sent]]:
        """Per partition that lost rows: the offset it lost them from, and the latest row sent there.

        The end offset is only a hint (Tansu reports the last batch's first offset + 1), so the
        log is asked what it holds at the last row's offset, and if it ends before that, at
        the offset of the latest row below its end. A topic the broker does not list is created
        first: Tansu acknowledges writes to a topic it does not list (a producer with metadata
        from before the restart), so re-sending into it would be "lost" again at every check."""
        lasts = self._last_sent(session)
        if not lasts:
            return {}
        async with LogProbe(self._bootstrap) as probe:
            ends = await probe.end_offsets(list(lasts))
            if None in ends.values():  # a restarted broker: create the topics before sending again
                await ensure_topics(self._bootstrap)
                ends = await probe.end_offsets(list(lasts))
            # Always read the record: a new log can reach the same end offset as the old one
            # (another producer's events), so (end, offset) alone cannot say the log is ours.
            ask = {tp: last.offset for tp, last in lasts.items() if ends[tp]}
            at_last = await probe.ids_at(ask)
            cut = [tp for tp in ask if at_last[tp] is None and ends[tp] <= lasts[tp].offset]  # type: ignore[operator]
            anchors = {tp: self._anchor(session, tp, lasts[tp], ends[tp]) for tp in cut}
            at_anchor = await probe.ids_at({tp: a.offset for tp, a in anchors.items() if a is not None})
        lost: dict[TopicPartition, tuple[int, Sent]] = {}
        for tp, last in lasts.items():
            seen = at_last.get(tp)
            start = replay_from(ends[tp], last, seen, anchors.get(tp), at_anchor.get(tp))
            if start is not None:
                lost[tp] = (start, last)
                log.warning("outbox relay: %s[%d] lost what it acknowledged from offset %d (end offset %s, "
                            "at our last offset %d: %s)", tp.topic, tp.partition, start, ends[tp], last.offset,
                            "nothing" if seen is None else "another event" if seen != last.event_id else "ours")
        return lost

    def _claim(self, session: Session) -> list[OutboxEvent]:
        if not self._locked(session):
            return []
        query = (select(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
                 .order_by(col(OutboxEvent.seq)).limit(self._batch_size))
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return list(session.exec(query).all())

    def _locked(self, session: Session) -> bool:
        if not self._postgres:
            return True
        return bool(session.connection().execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                                 {"k": _RELAY_LOCK_ID}).scalar())

    def _requeue_regressed(self, session: Session, sent: list[OutboxEvent]) -> int:
        """An acknowledgement at or below the offset of the row sent before it on that partition
        (by this relay or another one on the same table): the broker started a new log, so every
        row sent there before this batch is gone."""
        requeued = 0
        first: dict[TopicPartition, OutboxEvent] = {}
        for row in sent:
            first.setdefault(TopicPartition(row.topic, row.acked_partition), row)  # type: ignore[arg-type]
        for tp, row in first.items():
            before = session.exec(select(OutboxEvent.acked_offset).where(
                col(OutboxEvent.topic) == tp.topic, col(OutboxEvent.acked_partition) == tp.partition,
                col(OutboxEvent.seq) < row.seq, col(OutboxEvent.acked_offset).is_not(None))
                .order_by(col(OutboxEvent.seq).desc()).limit(1)).first()
            if before is not None and row.acked_offset <= before:  # type: ignore[operator]
                log.warning("outbox relay: %s[%d] acknowledged offset %d after %d: a new log",
                            tp.topic, tp.partition, row.acked_offset, before)
                requeued += self._requeue(session, tp, 0, row.seq - 1)  # type: ignore[operator]
        return requeued

    def _requeue(self, session: Session, tp: TopicPartition, from_offset: int, up_to_seq: int) -> int:
        lost = (col(OutboxEvent.topic) == tp.topic, col(OutboxEvent.acked_partition) == tp.partition,
                col(OutboxEvent.acked_offset) >= from_offset, col(OutboxEvent.seq) <= up_to_seq,
                col(OutboxEvent.published_at).is_not(None))
        result = session.exec(update(OutboxEvent).where(*lost)  # type: ignore[call-overload]
                              .values(published_at=None, acked_partition=None, acked_offset=None))
        count = int(result.rowcount or 0)
        if count:
            log.warning("outbox relay: sending %d event(s) of %s[%d] again", count, tp.topic, tp.partition)
        return count

    def _prune(self, session: Session) -> int:
        cutoff = _now() - self._retention
        result = session.exec(delete(OutboxEvent).where(  # type: ignore[call-overload]
            col(OutboxEvent.published_at).is_not(None), col(OutboxEvent.published_at) < cutoff))
        return int(result.rowcount or 0)

    @staticmethod
    def _last_sent(session: Session) -> dict[TopicPartition, Sent]:
        latest = (select(OutboxEvent.topic, OutboxEvent.acked_partition, func.max(OutboxEvent.seq).label("seq"))
                  .where(col(OutboxEvent.acked_offset).is_not(None))
                  .group_by(OutboxEvent.topic, OutboxEvent.acked_partition).subquery())
        rows = session.exec(select(OutboxEvent).join(latest, col(OutboxEvent.seq) == latest.c.seq)).all()
        return {TopicPartition(r.topic, r.acked_partition): _sent(r) for r in rows}  # type: ignore[arg-type]

    @staticmethod
    def _anchor(session: Session, tp: TopicPartition, last: Sent, end: int | None) -> Sent | None:
        """The latest row on `tp` below the log's reported end offset (and below `last`)."""
        below = min(end or 0, last.offset)
        row = session.exec(select(OutboxEvent).where(
            col(OutboxEvent.topic) == tp.topic, col(OutboxEvent.acked_partition) == tp.partition,
            col(OutboxEvent.acked_offset) < below).order_by(col(OutboxEvent.seq).desc()).limit(1)).first()
        return _sent(row) if row is not None else None

    async def _check_log_or_carry_on(self) -> None:
        """A check that fails (the broker half up, a probe timing out) must not hold back new
        events: it is tried again next period, and a new log is still noticed by its offsets."""
        try:
            await self.check_log()
        except Exception as exc:
            self.check_failures += 1
            log.warning("outbox relay: log check failed (%s: %s); checking again in %.0fs",
                        type(exc).__name__, exc, self._check_every_s)


def _sent(row: OutboxEvent) -> Sent:
    return Sent(seq=row.seq, event_id=row.event_id, offset=row.acked_offset)  # type: ignore[arg-type]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
