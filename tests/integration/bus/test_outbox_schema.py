"""An outbox table created by an older version (`create_all` adds no columns to an existing
table) is brought up to date by the kit's migration step, on SQLite and PostgreSQL; the inbox
table is created beside it; a second run changes nothing."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, inspect

from shared import outbox
from shared.db import make_engine
from shared.kit.migrations import create_kit_tables


def test_missing_kit_tables_and_columns_are_added_once(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        current = outbox.OutboxEvent.__table__  # type: ignore[attr-defined]
        older = Table(current.name, MetaData(), *(c.copy() for c in current.columns if not c.name.startswith("acked_")))
        older.create(engine)
        with engine.begin() as connection:
            assert create_kit_tables(connection) == ["outbox_event.acked_partition", "outbox_event.acked_offset",
                                                     "handled_event"]
        with engine.begin() as connection:
            assert create_kit_tables(connection) == []
        assert {c["name"] for c in inspect(engine).get_columns(current.name)} == {c.name for c in current.columns}
    finally:
        engine.dispose()
