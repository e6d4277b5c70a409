"""The monitor's database: the events it publishes are stored in its outbox (a SQLite file
under $CHALLENGER_HOME/monitor/, or the shared DATABASE_URL) and sent by the kit's relay,
which sends them again if the broker loses them (the embedded one restarts empty). The same
database holds the inbox of its augment and label consumers. Alembic migrates it at open
(services/monitor/migrations, version table `alembic_version_monitor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from schemas import Envelope
from shared import outbox
from shared.db import make_engine
from shared.kit.inbox import transaction
from shared.kit.migrations import migrate
from shared.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version_monitor"


def outbox_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.home / 'monitor' / 'outbox.db'}"


def open_outbox(settings: Settings) -> Engine:
    (settings.home / "monitor").mkdir(parents=True, exist_ok=True)
    engine = make_engine(outbox_url(settings))
    migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


class OutboxPublish:
    """The monitor's `publish`: the envelopes are stored in one transaction, each unless a row
    with its id is already there (the same degradation fired again keeps its first row). In a
    consumer's handled event that transaction is the inbox's: the rows commit with its mark."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, *envelopes: Envelope[Any]) -> None:
        with transaction(self.engine) as session:
            for envelope in envelopes:
                outbox.add_if_absent(session, envelope)
