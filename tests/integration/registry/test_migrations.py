"""The Alembic migrations produce exactly the tables the registry's models declare, on both
databases, even when another service's tables share the process-wide SQLModel metadata."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

import services.deployer.adapters.store  # noqa: F401  (another service's tables in the same process)
from services.registry.adapters.database import alembic_config, open_database
from shared.db import make_engine


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        command.check(alembic_config(engine))  # raises if autogenerate would emit any operation
        open_database(db_url).dispose()  # a second start is a no-op
    finally:
        engine.dispose()


def test_root_submitters_are_filled_in_for_existing_lineages(db_url: str) -> None:
    """Migration 0008: each existing candidate gets the submitter of its lineage's root."""
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0004")
        rows = [("root", None, "alice"), ("child", "root", "prompt_optimizer"),
                ("grandchild", "child", "prompt_optimizer"), ("orphan", "gone", "prompt_optimizer")]
        with engine.begin() as conn:
            for cid, parent, by in rows:
                conn.execute(text("INSERT INTO candidate (id, name, task, stage, submitted_by, parent_id, spec, "
                                  "created_at, updated_at) VALUES (:id, :id, 't', 'submitted', :by, :parent, '{}', "
                                  ":at, :at)"), {"id": cid, "by": by, "parent": parent, "at": datetime.now(UTC)})
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, root_submitted_by FROM candidate")).all())
        assert found == {"root": "alice", "child": "alice", "grandchild": "alice", "orphan": "prompt_optimizer"}
    finally:
        engine.dispose()
