"""The Alembic migrations produce exactly the tables the registry's models declare, on both
databases, even when another service's tables share the process-wide SQLModel metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

import services.deployer.adapters.store  # noqa: F401  (another service's tables in the same process)
from schemas import Envelope, new_event
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed
from schemas.events.models import StageChangeRequested
from services.registry.adapters.database import alembic_config, open_database
from services.registry.bootstrap import GROUP, bootstrap
from shared.db import make_engine
from shared.settings import Settings
from tests.integration.registry.conftest import deliver


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


def _processed(conn: sa.Connection, envelope: Envelope[Any], *, recorded: bool) -> None:
    """What the registry before 0009 kept of a handled event: its id in processed_event and, for
    a result it recorded (not a repeat it ignored), the result row."""
    conn.execute(text("INSERT INTO processed_event (event_id, type, at) VALUES (:id, :type, :at)"),
                 {"id": envelope.id, "type": envelope.type, "at": envelope.time})
    if recorded:
        conn.execute(text("INSERT INTO result_record (event_id, kind, run_id, candidate_id, status, summary, payload, "
                          "at) VALUES (:id, 'evaluation', :run, :cid, 'completed', '', :payload, :at)"),
                     {"id": envelope.id, "run": envelope.data.evaluation_id, "cid": envelope.data.candidate_id,
                      "payload": json.dumps(envelope.data.model_dump(mode="json")), "at": envelope.time})


def test_processed_events_move_to_the_kit_inbox(db_url: str, tmp_path: Path) -> None:
    """Migration 0009 on a registry database at 0008: the inbox knows every processed event id
    and every recorded result's business key, so after the upgrade nothing handled before is
    applied again, whichever event id carries it; processed_event is gone."""
    def result(run: str) -> Envelope[EvaluationCompleted]:
        return new_event(EvaluationCompleted(evaluation_id=run, candidate_id="c-1", task="capitals"),
                         source="evaluator")

    move = new_event(StageChangeRequested(candidate_id="c-1", to_stage="evaluating", actor="deployer"), source="t")
    first, repeat = result("ev-1"), result("ev-1")  # the repeat was processed and ignored
    twice = [result("ev-0"), result("ev-0")]  # recorded twice (before repeats were recognized)
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0008")
        with engine.begin() as conn:
            _processed(conn, move, recorded=False)
            _processed(conn, first, recorded=True)
            _processed(conn, repeat, recorded=False)
            for envelope in twice:
                _processed(conn, envelope, recorded=True)
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("processed_event")
            keys = set(conn.execute(text("SELECT key FROM handled_event WHERE consumer = :c"), {"c": GROUP}).scalars())
        ids = {e.id for e in (move, first, repeat, *twice)}
        assert keys == ids | {"evaluation:ev-1:completed", "evaluation:ev-0:completed"}
    finally:
        engine.dispose()

    registry = bootstrap(Settings(home=tmp_path, DATABASE_URL=db_url))
    try:
        assert deliver(registry, move) is False  # redelivered: skipped by its event id
        assert deliver(registry, first) is False
        assert deliver(registry, result("ev-1")) is False  # answered again under a new id
        assert deliver(registry, new_event(EvaluationFailed(evaluation_id="ev-1", candidate_id="c-1", reason="down"),
                                           source="evaluator")) is True  # another outcome: recorded
        with registry.engine.connect() as conn:
            rows = conn.execute(text("SELECT run_id, status FROM result_record ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("ev-1", "completed"), ("ev-0", "completed"), ("ev-0", "completed"),
                                            ("ev-1", "failed")]
    finally:
        registry.engine.dispose()
