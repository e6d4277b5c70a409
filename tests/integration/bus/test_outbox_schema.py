"""An outbox table created by an older version (`create_all` adds no columns to an existing
table) is brought up to date, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, inspect

from shared import outbox
from shared.db import make_engine


def test_missing_outbox_columns_are_added_once(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        current = outbox.OutboxEvent.__table__  # type: ignore[attr-defined]
        older = Table(current.name, MetaData(), *(c.copy() for c in current.columns if not c.name.startswith("acked_")))
        older.create(engine)
        assert outbox.add_missing_columns(engine) == ["acked_partition", "acked_offset"]
        assert outbox.add_missing_columns(engine) == []
        assert {c["name"] for c in inspect(engine).get_columns(current.name)} == {c.name for c in current.columns}
    finally:
        engine.dispose()
