"""Handlers on a real database (SQLite and PostgreSQL): idempotent by event id, resumable
after a restart, outputs staged in the outbox in order, SGLang health gate before staging."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.deployments import RouteUpdated
from services.deployer.adapters import store
from services.deployer.adapters.policy_file import load_policy
from services.deployer.domain.driver import Env
from services.deployer.domain.run import Phase
from services.deployer.handlers import Deployer
from services.deployer.traffic import CanaryTraffic
from shared.db import make_engine
from shared.outbox import OutboxEvent, to_envelope
from shared.pipeline import Stage
from shared.stack.process import free_port
from tests.unit.deployer.factories import evaluation, loadtest, submitted


def make(db_url: str, home: Path) -> Deployer:
    engine = make_engine(db_url)
    store.create_tables(engine)
    return Deployer(engine, Env(load_policy(), "http://127.0.0.1:8080"), CanaryTraffic(), home)


def outbox_types(d: Deployer) -> list[str]:
    with Session(d.engine) as s:
        return [to_envelope(r).type.removeprefix("io.challenger.")
                for r in s.exec(select(OutboxEvent).order_by(OutboxEvent.seq)).all()]


async def test_redelivery_changes_nothing_and_a_restart_resumes(db_url: str, tmp_path: Path):
    d = make(db_url, tmp_path)
    env = new_event(submitted(), source="test")
    await d.handle(env)
    await d.handle(env)
    assert outbox_types(d) == ["stage_change.requested", "evaluation.requested"]
    restarted = make(db_url, tmp_path)
    await restarted.handle(new_event(evaluation("cand-1:dev-eval"), source="evaluator", cause=env))
    assert outbox_types(restarted)[2:] == ["stage_change.requested", "loadtest.requested"]
    with Session(restarted.engine) as s:
        run = store.get_run(s, "cand-1")
    assert run is not None and run.phase == Phase.loadtest and run.expected == "load_testing"


async def test_route_revisions_only_go_up_and_identical_tables_are_not_resent(db_url: str, tmp_path: Path):
    d = make(db_url, tmp_path)
    await d.handle(new_event(submitted(), source="test"))
    await d.handle(new_event(evaluation("cand-1:dev-eval"), source="evaluator"))
    await d.handle(new_event(loadtest(), source="loadtester"))
    with Session(d.engine) as s:
        routes = [to_envelope(r).data for r in s.exec(select(OutboxEvent)).all()
                  if r.envelope["type"] == RouteUpdated.event_type]
        [staged] = routes
        assert staged.route == "sentiment-staging"
        assert store.route_update(s, staged.table) is None
        again = store.route_update(s, staged.table.model_copy(update={"require_json": True}))
        assert again is not None and again.revision > staged.revision


async def test_an_unhealthy_sglang_target_is_never_routed_to(sqlite_url: str, tmp_path: Path):
    d = make(sqlite_url, tmp_path)
    sub = submitted()
    sglang = CandidateSpec(name="sg", model="qwen", task="sentiment", engine="sglang",
                           endpoint=f"http://127.0.0.1:{free_port()}")
    await d.handle(new_event(sub.model_copy(update={"spec": sglang}), source="test"))
    await d.handle(new_event(evaluation("cand-1:dev-eval"), source="evaluator"))
    await d.handle(new_event(loadtest(), source="loadtester"))
    types = outbox_types(d)
    assert "route.updated" not in types and "deployment.changed" in types
    with Session(d.engine) as s:
        run = store.get_run(s, "cand-1")
    assert run is not None and run.expected == "rejected" and "/health" in run.history[-1].reason


async def test_degradation_during_a_canary_falls_back_and_rolls_back(sqlite_url: str, tmp_path: Path):
    from schemas.events.degradations import DegradationDetected
    from schemas.events.models import ModelApproved

    d = make(sqlite_url, tmp_path)
    await d.handle(new_event(submitted(), source="test"))
    with Session(d.engine) as s:
        run = store.get_run(s, "cand-1")
        store.put_run(s, run.model_copy(update={"phase": Phase.awaiting_approval,
                                                "expected": Stage.awaiting_approval}))
        s.commit()
    await d.handle(new_event(ModelApproved(candidate_id="cand-1", approver="bob"), source="registry"))
    await d.handle(new_event(DegradationDetected(degradation_id="g1", candidate_id="cand-1", route="sentiment",
                                                 rules=["refusal_rate"]), source="monitor"))
    types = outbox_types(d)
    assert types[-5:] == ["route.updated", "fallback.activated", "canary.step_changed", "deployment.changed",
                          "stage_change.requested"]
    with Session(d.engine) as s:
        run = store.get_run(s, "cand-1")
    assert run is not None and run.phase == Phase.done and run.expected == "rolled_back"
