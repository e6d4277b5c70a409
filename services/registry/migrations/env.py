"""Alembic environment for the registry: the same migrations on SQLite and PostgreSQL.

The engine comes from `config.attributes["engine"]` when the registry migrates itself, else
from DATABASE_URL / CHALLENGER_HOME like every service."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import services.registry.models  # noqa: F401  (registers the tables)
import shared.outbox  # noqa: F401
from shared.db import make_engine
from shared.settings import Settings

target_metadata = SQLModel.metadata
# SQLModel's metadata is process-wide: other services' tables (the deployer's, in a process
# that imports both) are not the registry's to migrate.
OWN_TABLES = {m.__table__.name for m in vars(services.registry.models).values()
              if isinstance(m, type) and hasattr(m, "__table__")} | {shared.outbox.OutboxEvent.__tablename__}


def _own(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table is None or table in OWN_TABLES


def run_migrations() -> None:
    engine = context.config.attributes.get("engine") or make_engine(Settings().db_url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # SQLite's batch mode copies a table and drops the old one: with foreign keys enforced,
        # dropping a table other rows point at (candidate, from stage_history) fails. Off for the
        # migration (a no-op inside a transaction, so before it), on again after.
        _foreign_keys(connection, on=False) if sqlite else None
        context.configure(connection=connection, target_metadata=target_metadata, include_object=_own,
                          render_as_batch=sqlite, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        _foreign_keys(connection, on=True) if sqlite else None


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


run_migrations()
