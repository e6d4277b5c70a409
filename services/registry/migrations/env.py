"""Alembic environment for the registry (shared.kit.migrations.run_env): its own tables, plus
the kit's outbox and inbox."""

from sqlmodel import SQLModel

import services.registry.adapters.models
from shared.kit.migrations import run_env

OWN_TABLES = {m.__table__.name for m in vars(services.registry.adapters.models).values()
              if isinstance(m, type) and issubclass(m, SQLModel) and hasattr(m, "__table__")}

run_env(OWN_TABLES)
