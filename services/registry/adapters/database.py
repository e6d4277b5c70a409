"""The registry's database: one engine, brought to the latest Alembic revision at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Engine

from shared.db import make_engine
from shared.kit import migrations

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # the registry's from its first release: existing databases keep it


def alembic_config(engine: Engine | None = None) -> Config:
    """For Alembic commands on the registry's revisions (tests, a new revision)."""
    return migrations.alembic_config(MIGRATIONS, VERSION_TABLE, engine)


def migrate_database(engine: Engine) -> Engine:
    """Bring the schema to the latest revision (idempotent; safe on every start)."""
    migrations.migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


def open_database(url: str) -> Engine:
    return migrate_database(make_engine(url))
