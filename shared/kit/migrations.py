"""Alembic, the one schema-migration mechanism of every service that owns tables.

Each such service keeps its revisions in its own `migrations/` folder, whose `env.py` is two
lines: `run_env(OWN_TABLES)`. A service migrates itself at start-up with `migrate(engine,
folder, version_table)`. Services may share one database (DATABASE_URL), so each records its
revision in its own version table and touches only its own tables; the kit's tables (outbox,
inbox) that several services use are created by `create_kit_tables`, idempotently."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from shared.db import make_engine
from shared.kit.inbox import HandledEvent
from shared.outbox import OutboxEvent
from shared.settings import Settings

KIT_TABLES = frozenset({OutboxEvent.__tablename__, HandledEvent.__tablename__})
# On PostgreSQL every service's migration takes this transaction-level advisory lock first: services
# sharing one database and started together (compose, Kubernetes) migrate one at a time, so one
# never creates a kit table the other has created but not yet committed.
MIGRATION_LOCK = 0x6368616C6C656E  # "challen"


def alembic_config(directory: Path, version_table: str, engine: Engine | None = None) -> Config:
    ini = directory / "alembic.ini"
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(directory))
    config.attributes["version_table"] = version_table
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, directory: Path, version_table: str = "alembic_version") -> None:
    """Bring the service's tables to its latest revision (idempotent; safe on every start)."""
    command.upgrade(alembic_config(directory, version_table, engine), "head")


def run_env(own_tables: set[str] | frozenset[str]) -> None:
    """The body of every service's migrations/env.py: the same revisions on SQLite and
    PostgreSQL, autogenerate limited to `own_tables` (SQLModel's metadata is process-wide)."""
    own = set(own_tables) | KIT_TABLES

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table in own

    config = context.config
    engine = config.attributes.get("engine") or make_engine(Settings().db_url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # SQLite's batch mode copies a table and drops the old one: with foreign keys enforced,
        # dropping a table other rows point at fails. Off for the migration (a no-op inside a
        # transaction, so before it), on again after.
        _foreign_keys(connection, on=False) if sqlite else None
        context.configure(connection=connection, target_metadata=SQLModel.metadata, include_object=include,
                          render_as_batch=sqlite, compare_type=True,
                          version_table=config.attributes.get("version_table", "alembic_version"))
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()
        connection.commit()
        _foreign_keys(connection, on=True) if sqlite else None


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


def create_kit_tables(connection: Connection) -> list[str]:
    """In a revision's upgrade(): the outbox and inbox tables, where absent (another service
    sharing the database may have made them), and any outbox column an older version lacked.
    Returns what it created or added."""
    done: list[str] = []
    inspector = sa.inspect(connection)
    for model in (OutboxEvent, HandledEvent):
        table = model.__table__  # type: ignore[attr-defined]
        if not inspector.has_table(table.name):
            table.create(connection)
            done.append(table.name)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in (c for c in table.columns if c.name not in have):
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
            done.append(f"{table.name}.{column.name}")
    return done
