"""The deployer's own tables: pipeline runs (whole run state as JSON, so a restart resumes),
the last table published per route (revisions) and the traffic logged per route. Which events
it handled is the kit's inbox (shared.kit.inbox); the schema is migrated by Alembic
(services/deployer/migrations)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from schemas.events.deployments import RouteTable, RouteUpdated
from services.deployer.domain.run import Phase, Run
from services.deployer.domain.traffic_profile import LoggedTraffic, merge
from shared.db import make_engine
from shared.kit.migrations import migrate

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
VERSION_TABLE = "alembic_version_deployer"  # the registry may share the database, with its own


def _now() -> datetime:
    return datetime.now(UTC)


class DeployerRun(SQLModel, table=True):
    __tablename__ = "deployer_run"

    candidate_id: str = Field(primary_key=True, max_length=200)
    task: str = Field(index=True, max_length=120)
    phase: str = Field(index=True, max_length=40)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=_now)


class DeployerRoute(SQLModel, table=True):
    __tablename__ = "deployer_route"

    route: str = Field(primary_key=True, max_length=200)
    revision: int = Field(sa_column=Column(BigInteger, nullable=False))  # wall-clock ms: beyond INTEGER
    table_json: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=_now)


class DeployerRouteTraffic(SQLModel, table=True):
    """Ordinary production traffic logged on a route, scaled for sampling: a task's default
    traffic profile when it has none of its own."""

    __tablename__ = "deployer_route_traffic"

    route: str = Field(primary_key=True, max_length=200)
    requests: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    first_at: float | None = None
    last_at: float | None = None


OWN_TABLES = frozenset(m.__tablename__ for m in (DeployerRun, DeployerRoute, DeployerRouteTraffic))


def open_database(url: str) -> Engine:
    """The deployer's engine, its schema brought to the latest revision (safe on every start)."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


def get_run(session: Session, candidate_id: str) -> Run | None:
    row = session.get(DeployerRun, candidate_id)
    return Run.model_validate(row.state) if row else None


def put_run(session: Session, run: Run) -> None:
    row = session.get(DeployerRun, run.candidate_id) or DeployerRun(candidate_id=run.candidate_id, task=run.task,
                                                                    phase=run.phase, state={})
    row.phase, row.task, row.updated_at = run.phase, run.task, _now()
    row.state = run.model_dump(mode="json")
    session.add(row)


def runs_in(session: Session, phases: Iterable[Phase]) -> list[Run]:
    rows = session.exec(select(DeployerRun).where(col(DeployerRun.phase).in_([str(p) for p in phases]))).all()
    return [Run.model_validate(r.state) for r in rows]


def all_runs(session: Session, limit: int = 100) -> list[Run]:
    rows = session.exec(select(DeployerRun).order_by(col(DeployerRun.updated_at).desc()).limit(limit)).all()
    return [Run.model_validate(r.state) for r in rows]


def logged_traffic(session: Session, route: str) -> LoggedTraffic | None:
    row = session.get(DeployerRouteTraffic, route)
    if row is None:
        return None
    return LoggedTraffic(row.requests, row.input_tokens, row.output_tokens, row.first_at, row.last_at)


def add_logged_traffic(session: Session, route: str, more: LoggedTraffic) -> None:
    total = merge(logged_traffic(session, route) or LoggedTraffic(), more)
    row = session.get(DeployerRouteTraffic, route) or DeployerRouteTraffic(route=route)
    row.requests, row.input_tokens, row.output_tokens = total.requests, total.input_tokens, total.output_tokens
    row.first_at, row.last_at = total.first_at, total.last_at
    session.add(row)


def route_table(session: Session, route: str) -> RouteTable | None:
    row = session.get(DeployerRoute, route)
    return RouteTable.model_validate(row.table_json) if row else None


def route_update(session: Session, table: RouteTable) -> RouteUpdated | None:
    """The next revision of `table`'s route, or None when the gateway already has this table.
    Revisions never go backwards, even across a lost deployer DB (they start at wall-clock ms)."""
    row = session.get(DeployerRoute, table.route)
    if row is not None and RouteTable.model_validate(row.table_json) == table:
        return None
    revision = max(row.revision + 1 if row else 0, int(_now().timestamp() * 1000))
    remember_route(session, table, revision, row)
    return RouteUpdated(route=table.route, table=table, revision=revision)


def remember_route(session: Session, table: RouteTable, revision: int, row: DeployerRoute | None = None) -> None:
    row = row or session.get(DeployerRoute, table.route)
    if row is not None and row.revision >= revision:
        return
    row = row or DeployerRoute(route=table.route, revision=revision, table_json={})
    row.revision, row.table_json, row.updated_at = revision, table.model_dump(mode="json"), _now()
    session.add(row)
