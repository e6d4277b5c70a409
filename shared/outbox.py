"""The transactional outbox: events are stored in the same DB transaction as the state change
that caused them, then relayed to Kafka in order by `OutboxRelay`.

A broker that is down only delays events: the relay keeps the rows, retries with backoff,
re-creates the catalogue's topics when the broker comes back (the embedded broker forgets
them on restart) and marks rows published only after the broker acknowledged them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, func, select

from schemas import EVENT_TYPES, Envelope
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics

log = logging.getLogger(__name__)

# Two relays on PostgreSQL: the advisory lock lets only one publish at a time, so per-key
# order holds; SKIP LOCKED keeps a second relay from waiting on (or re-sending) held rows.
_RELAY_LOCK_ID = 0x0C4A11E9


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


def add(session: Session, envelope: Envelope[Any]) -> OutboxEvent:
    """Stage `envelope` for publishing; it is sent only if the caller's transaction commits."""
    row = OutboxEvent(event_id=envelope.id, topic=envelope.topic, key=envelope.key,
                      envelope=envelope.model_dump(mode="json"))
    session.add(row)
    return row


def to_envelope(row: OutboxEvent) -> Envelope[Any]:
    cls = EVENT_TYPES[row.envelope["type"]]
    return Envelope[cls].model_validate(row.envelope)  # type: ignore[valid-type]


def pending_count(engine: Engine) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
        return int(session.exec(query).one())


class OutboxRelay:
    """Publish unpublished outbox rows in `seq` order; one batch at a time, awaited in order."""

    def __init__(self, engine: Engine, producer: EventProducer, *, bootstrap: str | None = None,
                 batch_size: int = 100, idle_s: float = 0.2, max_backoff_s: float = 5.0) -> None:
        self._engine = engine
        self._producer = producer
        self._bootstrap = bootstrap
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._max_backoff_s = max_backoff_s
        self._postgres = engine.dialect.name == "postgresql"
        self.published = 0
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                if backoff:
                    await self._reconnected()
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
            for row in rows[:done]:
                row.published_at = when
                session.add(row)
            session.commit()
        self.published += done
        if failure is not None:
            raise failure
        return done

    def _claim(self, session: Session) -> list[OutboxEvent]:
        if self._postgres:
            locked = session.connection().execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                                  {"k": _RELAY_LOCK_ID}).scalar()
            if not locked:
                return []
        query = (select(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
                 .order_by(col(OutboxEvent.seq)).limit(self._batch_size))
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return list(session.exec(query).all())

    async def _reconnected(self) -> None:
        if self._bootstrap:
            await ensure_topics(self._bootstrap)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
