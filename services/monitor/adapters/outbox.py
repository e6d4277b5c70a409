"""The monitor's outbox: the events it publishes are stored in a database (a SQLite file under
$CHALLENGER_HOME/monitor/, or the shared DATABASE_URL) and sent by `shared.outbox.OutboxRelay`,
which sends them again if the broker loses them (the embedded one restarts empty)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from schemas import Envelope
from shared import outbox
from shared.db import make_engine
from shared.settings import Settings


def outbox_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.home / 'monitor' / 'outbox.db'}"


def open_outbox(settings: Settings) -> Engine:
    (settings.home / "monitor").mkdir(parents=True, exist_ok=True)
    engine = make_engine(outbox_url(settings))
    SQLModel.metadata.create_all(engine, tables=[outbox.OutboxEvent.__table__])  # type: ignore[attr-defined]
    outbox.add_missing_columns(engine)  # an outbox created by an older version
    return engine


class OutboxPublish:
    """The monitor's `publish`: the envelopes are stored in one transaction, each unless a row
    with its id is already there (the same degradation fired again keeps its first row)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, *envelopes: Envelope[Any]) -> None:
        with Session(self.engine) as session:
            for envelope in envelopes:
                outbox.add_if_absent(session, envelope)
            session.commit()
