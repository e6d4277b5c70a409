"""The Alembic migrations produce exactly the tables the models declare, on both databases."""

from __future__ import annotations

from alembic import command

from services.registry.adapters.database import alembic_config, open_database


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        command.check(alembic_config(engine))  # raises if autogenerate would emit any operation
        open_database(db_url).dispose()  # a second start is a no-op
    finally:
        engine.dispose()
