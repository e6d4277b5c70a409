"""The inbox: which events a consumer has handled, so a redelivered one changes nothing.

Kafka delivers at least once (a crash before the offset commit, a rebalance, an outbox that
re-sends what a restarted broker lost), so every consumer dedupes. It does so in ONE place:
`EventConsumer` asks its inbox `once(consumer, key)` around each handler call. The key is the
event id, or a business id the subscription declares (an evaluation id: a service that crashed
after publishing answers again with a new event id but the same evaluation).

- `SqlInbox` keeps one `handled_event` row per (consumer, key). The handler's database writes
  go into the SAME transaction as the row (`transaction(engine)` hands the handler the inbox's
  session), so "handled" and its effects commit together or not at all. Two instances racing
  on one event: the second commit hits the primary key and rolls back, effects included.
- `FileInbox` serves the services whose state is files (evaluator, load tester, optimizer): a
  marker file per key, written atomically (temp file, then rename) after the handler returned.
  Their handlers are idempotent by business id (a finished run's result is stored and
  republished), so a crash between the effect and the marker repeats the handler harmlessly.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

log = logging.getLogger(__name__)
DEFAULT_RETENTION_S = 7 * 24 * 3600.0  # longer than the outbox keeps events to re-send (24 h)


def _now() -> datetime:
    return datetime.now(UTC)


class HandledEvent(SQLModel, table=True):
    """One handled event (or business id) per consumer group."""

    __tablename__ = "handled_event"

    consumer: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=200)
    event_type: str = Field(default="", max_length=200)
    handled_at: datetime = Field(default_factory=_now, index=True)


class Inbox(Protocol):
    def once(self, consumer: str, key: str, event_type: str) -> contextlib.AbstractContextManager[bool]:
        """Yield False when `consumer` already handled `key` (skip it); else True, and record
        it as handled when the block exits without an exception."""
        ...

    def prune(self, older_than_s: float) -> int:
        """Forget keys handled longer ago than `older_than_s`; return how many."""
        ...


_session: ContextVar[Session | None] = ContextVar("challenger_inbox_session", default=None)


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """The session a handler writes in. Inside an inbox `once` block on `engine`, the block's
    own session: do not commit it, the inbox commits it with the handled mark. Anywhere else
    (REST, CLI, tests) a new session, committed when the block ends without an exception."""
    current = _session.get()
    if current is not None and current.get_bind() is engine:
        yield current
        return
    with Session(engine) as session:
        yield session
        session.commit()


class SqlInbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def once(self, consumer: str, key: str, event_type: str) -> Iterator[bool]:
        with Session(self.engine) as session:
            if session.get(HandledEvent, (consumer, key)) is not None:
                yield False
                return
            token = _session.set(session)
            try:
                yield True
                session.add(HandledEvent(consumer=consumer, key=key, event_type=event_type))
                self._commit(session, consumer, key)
            finally:
                _session.reset(token)

    def _commit(self, session: Session, consumer: str, key: str) -> None:
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            with Session(self.engine) as fresh:
                if fresh.get(HandledEvent, (consumer, key)) is None:
                    raise  # a real constraint violation of the handler's own writes
            log.info("%s: %s was handled concurrently by another instance; rolled back", consumer, key)

    def handled(self, consumer: str, key: str) -> bool:
        with Session(self.engine) as session:
            return session.get(HandledEvent, (consumer, key)) is not None

    def prune(self, older_than_s: float = DEFAULT_RETENTION_S) -> int:
        cutoff = _now() - timedelta(seconds=older_than_s)
        with Session(self.engine) as session:
            result = session.exec(delete(HandledEvent).where(col(HandledEvent.handled_at) < cutoff))  # type: ignore[call-overload]
            session.commit()
            return int(result.rowcount or 0)


class FileInbox:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _marker(self, consumer: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.root / _safe(consumer) / f"{digest}.handled"

    @contextlib.contextmanager
    def once(self, consumer: str, key: str, event_type: str) -> Iterator[bool]:
        marker = self._marker(consumer, key)
        if marker.exists():
            yield False
            return
        yield True
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(f"{event_type}\n{key}\n")
        os.replace(tmp, marker)

    def handled(self, consumer: str, key: str) -> bool:
        return self._marker(consumer, key).exists()

    def prune(self, older_than_s: float = DEFAULT_RETENTION_S) -> int:
        cutoff = _now().timestamp() - older_than_s
        gone = 0
        for marker in self.root.glob("*/*.handled"):
            with contextlib.suppress(FileNotFoundError):
                if marker.stat().st_mtime < cutoff:
                    marker.unlink()
                    gone += 1
        return gone


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def create_inbox_table(engine: Engine) -> None:
    """For tests and migrations: the inbox's table, if it is not there."""
    SQLModel.metadata.create_all(engine, tables=[HandledEvent.__table__])  # type: ignore[attr-defined]
