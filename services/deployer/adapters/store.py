"""The deployer's own tables: pipeline runs (whole run state as JSON, so a restart resumes),
the last table published per route (revisions), the traffic logged per route (with the ids
last folded into it from each partition of the traffic group), and each
active canary's observations since its last tick (its arms, and the requests folded into
them). Which events it handled is the kit's inbox (shared.kit.inbox); the schema is migrated
by Alembic (services/deployer/migrations)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, delete, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from schemas.events.deployments import RouteTable, RouteUpdated
from schemas.events.inference import InferenceLogged
from services.deployer.domain.canary import dump_arm, load_arm, merge
from services.deployer.domain.live_traffic import ArmName, Arms, Observation, fold, unseen
from services.deployer.domain.live_traffic import feedback as feedback_on
from services.deployer.domain.run import Phase, Run
from services.deployer.domain.traffic_profile import LoggedTraffic, by_route
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
    # set once by migration 0003 to last_at: traffic logged until then was counted before the
    # volumes were folded per batch; a group reading the topic from its beginning skips it
    counted_before: float | None = None


class DeployerTrafficFolded(SQLModel, table=True):
    """The ids of the logged inferences last folded into the routes' volumes from one partition
    of the traffic group (oldest first, `live_traffic.unseen`): written in the fold's
    transaction, so a batch redelivered after a crash counts none of them twice."""

    __tablename__ = "deployer_traffic_folded"

    group: str = Field(primary_key=True, max_length=200)
    source: str = Field(primary_key=True, max_length=220)  # "topic:partition"
    ids: list[str] = Field(sa_column=Column(JSON, nullable=False))


class DeployerCanaryArms(SQLModel, table=True):
    """An active canary's observations per arm since its last tick (Moments per metric, as
    `canary.dump_arm` writes them): folded into per consumed batch, drained into the run by
    the tick. `since`: when the canary began to collect (earlier traffic is no observation)."""

    __tablename__ = "deployer_canary_arms"

    canary: str = Field(primary_key=True, max_length=200)  # the canary run's candidate id
    since: float
    champion: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    candidate: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class DeployerCanaryEvent(SQLModel, table=True):
    """What was folded into a canary's arms, so a redelivery counts nothing twice: a logged
    request (key: its request id; feedback on it finds its arm here) or a feedback (key:
    `feedback:` + its event id). Kept while the canary is active, dropped with it."""

    __tablename__ = "deployer_canary_event"

    key: str = Field(primary_key=True, max_length=220)
    canary: str = Field(index=True, max_length=200)
    arm: str = Field(max_length=20)


OWN_TABLES = frozenset(m.__tablename__ for m in (DeployerRun, DeployerRoute, DeployerRouteTraffic,
                                                 DeployerTrafficFolded, DeployerCanaryArms, DeployerCanaryEvent))
_TRAFFIC: Any = DeployerRouteTraffic.__table__
_FOLDED: Any = DeployerTrafficFolded.__table__


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


def counted_before(session: Session) -> dict[str, float]:
    """Per route, the time until which its traffic was counted before migration 0003."""
    rows = session.exec(select(DeployerRouteTraffic)).all()
    return {r.route: r.counted_before for r in rows if r.counted_before is not None}


Logged = tuple[str, InferenceLogged, float]  # (event id, the logged inference, when, epoch seconds)


def fold_volumes(session: Session, group: str, source: str, logged: Sequence[Logged], keep: int) -> int:
    """Add logged inferences to their routes' volumes, each once: those among the ids last
    folded from `source` (a partition of `group`) were counted by an earlier transaction whose
    offsets the consumer did not commit. One upsert of the routes' rows, one of the ids to
    remember (the last `keep`). Returns how many were counted."""
    by_id = {eid: (ev, at) for eid, ev, at in logged}  # an event twice in the batch: once
    key = (_FOLDED.c.group == group) & (_FOLDED.c.source == source)
    before = session.execute(select(_FOLDED.c.ids).where(key).with_for_update()).scalar_one_or_none()
    fresh, remember = unseen(before or [], list(by_id), keep)
    more = by_route(by_id[eid] for eid in fresh)
    upsert = _insert(session)
    if more:
        rows = [{"route": route, "requests": v.requests, "input_tokens": v.input_tokens,
                 "output_tokens": v.output_tokens, "first_at": v.first_at, "last_at": v.last_at}
                for route, v in sorted(more.items())]  # one order for every writer: no deadlock
        new = upsert(_TRAFFIC).values(rows)
        least, greatest = (func.least, func.greatest) if _dialect(session) == "postgresql" else (func.min, func.max)
        t, x = _TRAFFIC.c, new.excluded
        session.execute(new.on_conflict_do_update(index_elements=["route"], set_={
            "requests": t.requests + x.requests, "input_tokens": t.input_tokens + x.input_tokens,
            "output_tokens": t.output_tokens + x.output_tokens,
            "first_at": least(func.coalesce(t.first_at, x.first_at), x.first_at),
            "last_at": greatest(func.coalesce(t.last_at, x.last_at), x.last_at)}))
    folded = upsert(_FOLDED).values(group=group, source=source, ids=remember)
    session.execute(folded.on_conflict_do_update(index_elements=["group", "source"], set_={"ids": folded.excluded.ids}))
    return len(fresh)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session) -> Any:
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[_dialect(session)]


def open_canary(session: Session, canary: str, since: float) -> float:
    """The canary's stored arms, from `since` if it has none yet; returns when it began."""
    row = session.get(DeployerCanaryArms, canary)
    if row is None:
        row = DeployerCanaryArms(canary=canary, since=since, champion={}, candidate={})
        session.add(row)
    return row.since


Feedback = tuple[str, str, float]  # (event id, request id, score)


def fold_batch(session: Session, requests: Sequence[tuple[str, Observation]], feedback: Sequence[Feedback]) -> int:
    """Fold logged requests (request id, observation) and feedback into their canaries' arms,
    each once: what was folded before (in an earlier transaction or earlier in the batch) is
    skipped. Feedback counts for the arm its request counted for, if it counted. Returns how
    many were folded. One statement per kind of row, whatever the batch's size."""
    keys = [rid for rid, _ in requests] + [_feedback_key(eid) for eid, _, _ in feedback]
    done = set(session.exec(select(DeployerCanaryEvent.key).where(col(DeployerCanaryEvent.key).in_(keys)))) \
        if keys else set()
    served: dict[str, tuple[str, ArmName]] = {}
    folded: dict[str, Arms] = {}
    rows: list[dict[str, str]] = []

    def add(key: str, obs: Observation) -> None:
        done.add(key)
        rows.append({"key": key, "canary": obs.canary, "arm": obs.arm})
        folded[obs.canary] = fold(folded.get(obs.canary, ({}, {})), obs)

    for request_id, obs in requests:
        if request_id not in done:
            add(request_id, obs)
            served[request_id] = (obs.canary, obs.arm)
    if fresh := [(eid, rid, score) for eid, rid, score in feedback if _feedback_key(eid) not in done]:
        asked = {rid for _, rid, _ in fresh} - set(served)
        if asked:
            found = session.exec(select(DeployerCanaryEvent).where(col(DeployerCanaryEvent.key).in_(asked)))
            served |= {r.key: (r.canary, r.arm) for r in found}  # type: ignore[misc]
        for eid, rid, score in fresh:
            if rid in served and _feedback_key(eid) not in done:
                add(_feedback_key(eid), feedback_on(*served[rid], score))
    if rows:  # one multi-row INSERT (the ORM would build an object per row)
        session.execute(insert(DeployerCanaryEvent), rows)
    for canary, more in folded.items():
        row = session.get(DeployerCanaryArms, canary, with_for_update=True)
        row = row or DeployerCanaryArms(canary=canary, since=0.0, champion={}, candidate={})
        champion, candidate = _arms(row)
        row.champion = dump_arm(merge(champion, more[0]))
        row.candidate = dump_arm(merge(candidate, more[1]))
        session.add(row)
    return len(rows)


def _feedback_key(event_id: str) -> str:
    return f"feedback:{event_id}"


def take_arms(session: Session, canary: str) -> Arms:
    """The canary's observations since the last take, which start again from none; committed
    with the run they are merged into, they are counted exactly once."""
    row = session.get(DeployerCanaryArms, canary, with_for_update=True)
    if row is None:
        return {}, {}
    arms = _arms(row)
    row.champion, row.candidate = {}, {}
    session.add(row)
    return arms


def forget_canaries_except(session: Session, active: set[str]) -> None:
    """Drop the arms and folded requests of every canary not in `active` (it has ended)."""
    for model in (DeployerCanaryArms, DeployerCanaryEvent):
        session.exec(delete(model).where(col(model.canary).not_in(active)))  # type: ignore[call-overload]


def _arms(row: DeployerCanaryArms) -> Arms:
    return load_arm(row.champion), load_arm(row.candidate)


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
