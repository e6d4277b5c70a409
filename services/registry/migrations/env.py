"""Alembic environment for the registry: the same migrations on SQLite and PostgreSQL.

The engine comes from `config.attributes["engine"]` when the registry migrates itself, else
from DATABASE_URL / CHALLENGER_HOME like every service."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import services.registry.models  # noqa: F401  (registers the tables)
import shared.outbox  # noqa: F401
from shared.db import make_engine
from shared.settings import Settings

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine") or make_engine(Settings().db_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
