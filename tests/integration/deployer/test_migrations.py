"""The deployer's Alembic migrations, on SQLite and PostgreSQL: on an empty database, on one an
older deployer made with `create_all` (its deployer_handled ids move into the kit's inbox and
stay handled), and on one database shared with the registry, migrated in either order, and
concurrently on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from schemas import new_event
from services.deployer.adapters import store
from services.deployer.adapters.policy_file import load_policy
from services.deployer.domain import driver
from services.deployer.domain.run import Phase
from services.registry.adapters.database import alembic_config as registry_config
from services.registry.adapters.database import open_database as open_registry
from shared import outbox
from shared.db import make_engine
from shared.kit.inbox import HandledEvent
from shared.kit.migrations import MIGRATION_LOCK, alembic_config
from tests.integration.deployer.local import LocalDeployer
from tests.unit.deployer.factories import evaluation, submitted

HEAD = "0003"
BASELINE = ("deployer_route", "deployer_route_traffic", "deployer_run")  # what the deployer made before Alembic
ADDED_LATER = {"deployer_route_traffic": ("counted_before",)}  # columns of the models since (0003)


def check(engine: sa.engine.Engine) -> None:
    """Raises if autogenerate would change anything: the migrated schema is the models'."""
    command.check(alembic_config(store.MIGRATIONS, store.VERSION_TABLE, engine))


def tables(engine: sa.engine.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def revision(engine: sa.engine.Engine, version_table: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT version_num FROM {version_table}")).scalars())


def test_an_empty_database_gets_the_models_tables(db_url: str) -> None:
    engine = store.open_database(db_url)
    try:
        check(engine)
        assert store.OWN_TABLES | {"outbox_event", "handled_event"} <= tables(engine)
        assert revision(engine, store.VERSION_TABLE) == [HEAD] and "alembic_version" not in tables(engine)
        store.open_database(db_url).dispose()  # a second start is a no-op
        assert revision(engine, store.VERSION_TABLE) == [HEAD]
    finally:
        engine.dispose()


OLD_HANDLED = sa.Table("deployer_handled", sa.MetaData(),  # the model older deployers deduplicated with
                       sa.Column("event_id", AutoString(64), primary_key=True),
                       sa.Column("event_type", AutoString(120), nullable=False),
                       sa.Column("handled_at", UTCDateTime(), nullable=False))


def old_deployer_database(url: str, handled_id: str) -> None:
    """What an older deployer's `create_all` made: its tables, deployer_handled, and an outbox
    without the acked_* columns; with a run waiting for its dev evaluation, which it had
    handled once (event `handled_id`)."""
    engine = make_engine(url)
    try:
        for name in BASELINE:  # as they were: without the columns later revisions added
            current = SQLModel.metadata.tables[name]
            sa.Table(name, sa.MetaData(), *(c.copy() for c in current.columns
                                            if c.name not in ADDED_LATER.get(name, ()))).create(engine)
        current = outbox.OutboxEvent.__table__  # type: ignore[attr-defined]
        sa.Table(current.name, sa.MetaData(),
                 *(c.copy() for c in current.columns if not c.name.startswith("acked_"))).create(engine)
        OLD_HANDLED.create(engine)
        result = driver.on_submitted(submitted(), "corr-1", load_policy().for_task("sentiment").workload)
        with Session(engine) as s:
            store.put_run(s, result.run)
            s.commit()
        with engine.begin() as conn:
            conn.execute(OLD_HANDLED.insert().values(event_id=handled_id, event_type="io.challenger.x",
                                                     handled_at=datetime.now(UTC)))
    finally:
        engine.dispose()


@pytest.mark.parametrize("group", ["deployer", "deployer-blue"])
async def test_an_old_deployer_database_is_adopted_and_what_it_handled_stays_handled(
        db_url: str, tmp_path: Path, group: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHALLENGER_DEPLOYER_GROUP", group)
    evaluated = new_event(evaluation("cand-1:dev-eval"), source="evaluator")
    old_deployer_database(db_url, evaluated.id)

    d = LocalDeployer(db_url, tmp_path)  # migrates
    try:
        check(d.engine)
        assert "deployer_handled" not in tables(d.engine)
        with Session(d.engine) as s:
            assert [(h.consumer, h.key) for h in s.query(HandledEvent).all()] == [(group, evaluated.id)]
        await d.handle(evaluated)  # redelivered after the upgrade: skipped
        with Session(d.engine) as s:
            run = store.get_run(s, "cand-1")
            assert run is not None and run.phase == Phase.dev_eval and s.query(outbox.OutboxEvent).count() == 0
        await d.handle(new_event(evaluation("cand-1:dev-eval"), source="evaluator"))  # a new one is handled
        with Session(d.engine) as s:
            run = store.get_run(s, "cand-1")
            assert run is not None and run.phase == Phase.loadtest
    finally:
        d.engine.dispose()


@pytest.mark.parametrize("first", ["registry", "deployer"])
def test_the_registry_and_the_deployer_migrate_one_shared_database_in_either_order(db_url: str, first: str) -> None:
    opens = {"registry": open_registry, "deployer": store.open_database}
    engines = {name: opens[name](db_url) for name in (first, *(n for n in opens if n != first))}
    try:
        for open_again in opens.values():  # both start again: no-ops
            open_again(db_url).dispose()
        check(engines["deployer"])
        command.check(registry_config(engines["registry"]))
        assert revision(engines["deployer"], store.VERSION_TABLE) == [HEAD]
        assert len(revision(engines["registry"], "alembic_version")) == 1
        assert {"candidate", "deployer_run", "outbox_event", "handled_event"} <= tables(engines["deployer"])
    finally:
        for engine in engines.values():
            engine.dispose()


def test_on_postgresql_a_migration_waits_for_the_one_in_progress(pg_url: str) -> None:
    """Services sharing a database start together: the second migrates once the first committed
    (without the lock, two deployers starting together failed 10 times in 10, creating the same table)."""
    holder = make_engine(pg_url)
    done = threading.Event()
    with holder.connect() as conn:
        conn.execute(sa.text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))  # another service migrating
        migrating = threading.Thread(target=lambda: (store.open_database(pg_url).dispose(), done.set()))
        migrating.start()
        assert not done.wait(2.0), "migrated while another migration held the lock"
        assert "deployer_run" not in tables(holder)
        conn.execute(sa.text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        conn.commit()
    migrating.join(60)
    assert done.is_set() and "deployer_run" in tables(holder)
    holder.dispose()
