"""The monitor's database is migrated by Alembic under its own version table: on an empty
database, on an outbox an older monitor made with `create_all` (its rows kept, the columns it
lacked added), and on a DATABASE_URL the registry shares, whose tables and revision it leaves
alone. SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.monitor.adapters.journal import OWN_TABLES
from services.monitor.adapters.outbox import VERSION_TABLE, open_outbox
from services.registry.adapters.database import open_database
from shared.db import make_engine
from shared.settings import Settings

KIT = {"outbox_event", "handled_event"}
HEAD = "0004"  # the window journal (0002), the reference windows (0003), the closed windows' log (0004)


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def revision(engine: Engine, table: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text(f"SELECT version_num FROM {table}")).scalar_one())


def test_an_empty_database_gets_the_kit_and_journal_tables_and_a_second_start_changes_nothing(
        db_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=db_url)
    for _ in range(2):
        engine = open_outbox(settings)
        assert tables(engine) == KIT | OWN_TABLES | {VERSION_TABLE} and revision(engine, VERSION_TABLE) == HEAD
        engine.dispose()


def test_an_outbox_made_by_an_older_monitor_keeps_its_rows_and_gains_what_it_lacked(db_url: str,
                                                                                   tmp_path: Path) -> None:
    old = sa.Table("outbox_event", sa.MetaData(),  # the shape before acked offsets, made by create_all
                   sa.Column("seq", sa.Integer, primary_key=True),
                   sa.Column("event_id", sa.String(64), unique=True, index=True, nullable=False),
                   sa.Column("topic", sa.String(200), nullable=False), sa.Column("key", sa.String(200), nullable=False),
                   sa.Column("envelope", sa.JSON, nullable=False), sa.Column("created_at", sa.DateTime, nullable=False),
                   sa.Column("published_at", sa.DateTime, nullable=True, index=True))
    engine = make_engine(db_url)
    old.create(engine)
    with engine.begin() as conn:
        conn.execute(old.insert().values(event_id="e-1", topic="t", key="k", envelope={"id": "e-1"},
                                         created_at=datetime.now(UTC).replace(tzinfo=None)))
    engine.dispose()

    engine = open_outbox(Settings(home=tmp_path, DATABASE_URL=db_url))
    columns = {c["name"] for c in sa.inspect(engine).get_columns("outbox_event")}
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT event_id FROM outbox_event")).scalars().all()
    engine.dispose()
    assert {"acked_partition", "acked_offset"} <= columns and kept == ["e-1"]


def test_a_database_shared_with_the_registry_keeps_its_tables_and_revision(db_url: str, tmp_path: Path) -> None:
    registry = open_database(db_url)  # the registry starts first in the stack, and made the outbox
    before, registry_revision = tables(registry), revision(registry, "alembic_version")
    monitor = open_outbox(Settings(home=tmp_path, DATABASE_URL=db_url))
    after = tables(monitor)
    monitor.dispose()
    again = open_database(db_url)  # the registry restarts on the shared database: nothing to do
    assert after == before | KIT | OWN_TABLES | {VERSION_TABLE}
    assert revision(again, "alembic_version") == registry_revision and tables(again) == after
    registry.dispose()
    again.dispose()
