"""The Alembic migrations produce exactly the tables the registry's models declare, on both
databases, even when another service's tables share the process-wide SQLModel metadata."""

from __future__ import annotations

from alembic import command

import services.deployer.adapters.store  # noqa: F401  (another service's tables in the same process)
from services.registry.adapters.database import alembic_config, open_database


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        command.check(alembic_config(engine))  # raises if autogenerate would emit any operation
        open_database(db_url).dispose()  # a second start is a no-op
    finally:
        engine.dispose()
