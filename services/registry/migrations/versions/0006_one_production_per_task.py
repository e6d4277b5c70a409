"""at most one production candidate per task: repair, then a partial unique index

A registry before this revision never moved the old champion out of production when a new
one was promoted, so a task may hold several production candidates. The task's recorded
champion stays production; every other one becomes standby, with a stage-history row saying
why (no model.stage_changed is published for it: a migration writes no events).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_candidate_production_task"
PRODUCTION = sa.text("stage = 'production'")
ACTOR = "registry-migration-0006"
WHEN = sqlmodel.sql.sqltypes.UTCDateTime()
CANDIDATE = sa.table("candidate", sa.column("id"), sa.column("stage"), sa.column("updated_at", WHEN))
HISTORY = sa.table("stage_history", sa.column("candidate_id"), sa.column("from_stage"), sa.column("to_stage"),
                   sa.column("actor"), sa.column("reason"), sa.column("at", WHEN))


def upgrade() -> None:
    _repair(op.get_bind())
    op.create_index(INDEX, "candidate", ["task"], unique=True, sqlite_where=PRODUCTION, postgresql_where=PRODUCTION)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="candidate")


def _repair(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text(
        "SELECT c.id, c.task, t.champion_id FROM candidate c LEFT JOIN task t ON t.name = c.task "
        "WHERE c.stage = 'production' ORDER BY c.task, c.updated_at DESC, c.id")).all()
    by_task: dict[str, list[tuple[str, str | None]]] = {}
    for cid, task, champion in rows:
        by_task.setdefault(task, []).append((cid, champion))
    for task, found in by_task.items():
        if len(found) < 2:
            continue
        champion = found[0][1]
        keep = champion if any(cid == champion for cid, _ in found) else found[0][0]  # else the newest
        why = "the task's recorded champion" if keep == champion else "the most recently moved (no recorded champion)"
        for cid, _ in found:
            if cid != keep:
                _to_standby(conn, cid, f"repair: task {task} had {len(found)} production candidates; {keep} "
                                       f"({why}) stays the champion, this one becomes standby")


def _to_standby(conn: sa.Connection, candidate_id: str, reason: str) -> None:
    at = datetime.now(UTC)
    conn.execute(CANDIDATE.update().where(CANDIDATE.c.id == candidate_id).values(stage="standby", updated_at=at))
    conn.execute(HISTORY.insert().values(candidate_id=candidate_id, from_stage="production", to_stage="standby",
                                         actor=ACTOR, reason=reason, at=at))
