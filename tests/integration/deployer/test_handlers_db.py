"""Handlers on a real database (SQLite and PostgreSQL): idempotent by event id, resumable
after a restart, outputs staged in the outbox in order, SGLang health gate before staging."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.deployments import RouteUpdated
from services.deployer.adapters import store
from services.deployer.domain.run import Phase
from shared.outbox import OutboxEvent, to_envelope
from shared.pipeline import Stage
from shared.process import free_port
from tests.integration.deployer.local import LocalDeployer
from tests.unit.deployer.factories import evaluation, loadtest, submitted


def make(db_url: str, home: Path) -> LocalDeployer:
    return LocalDeployer(db_url, home)


def outbox_types(d: LocalDeployer) -> list[str]:
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


def _serving(d: LocalDeployer, primary: str, fallback: str) -> None:
    from schemas.events.deployments import RouteTable, RouteTarget

    def target(cid: str) -> RouteTarget:
        return RouteTarget(candidate_id=cid, url=f"http://127.0.0.1:9/{cid}", model=cid)

    with Session(d.engine) as s:
        store.remember_route(s, RouteTable(route="sentiment", targets=[target(primary)],
                                           fallbacks=[target(fallback)]), 1)
        s.commit()


def _staged(d: LocalDeployer, event_type: str) -> list[object]:
    with Session(d.engine) as s:
        return [to_envelope(r).data for r in s.exec(select(OutboxEvent).order_by(OutboxEvent.seq)).all()
                if r.envelope["type"] == event_type]


async def test_a_degraded_production_candidate_is_rolled_back_in_favour_of_its_fallback(
        db_url: str, tmp_path: Path):
    from schemas.events.degradations import DegradationDetected
    from schemas.events.models import StageChangeRequested

    d = make(db_url, tmp_path)
    _serving(d, "champ-new", "champ-old")  # no run of ours: an imported or long-finished champion

    await d.handle(new_event(DegradationDetected(degradation_id="dg-7", candidate_id="champ-new", route="sentiment",
                                                 rules=["drift_share"]), source="monitor"))

    assert outbox_types(d) == ["route.updated", "fallback.activated", "stage_change.requested"]
    [request] = _staged(d, StageChangeRequested.event_type)
    assert request == StageChangeRequested(candidate_id="champ-new", to_stage="rolled_back", actor="deployer",
                                           reason="degradation dg-7: drift_share", successor_id="champ-old")
    [route] = _staged(d, RouteUpdated.event_type)
    assert [t.candidate_id for t in route.table.targets] == ["champ-old"] and route.table.fallbacks == []


async def test_a_retired_standby_is_no_longer_the_routes_fallback(sqlite_url: str, tmp_path: Path):
    from schemas.events.models import ModelStageChanged

    d = make(sqlite_url, tmp_path)
    _serving(d, "champ", "old")
    kept = ModelStageChanged(candidate_id="champ", task="sentiment", from_stage="canary", to_stage="production",
                             actor="deployer")
    retired = ModelStageChanged(candidate_id="old", task="sentiment", from_stage="standby", to_stage="retired",
                                actor="operator:ann", reason="no longer wanted as fallback")

    await d.handle(new_event(kept, source="registry"))
    await d.handle(new_event(retired, source="registry"))
    await d.handle(new_event(retired, source="registry"))

    [route] = _staged(d, RouteUpdated.event_type)
    assert [t.candidate_id for t in route.table.targets] == ["champ"] and route.table.fallbacks == []


async def test_the_routes_logged_traffic_sizes_the_load_test_and_survives_a_restart(db_url: str, tmp_path: Path):
    from datetime import UTC, datetime, timedelta

    from schemas.events.inference import InferenceLogged
    from schemas.events.loadtests import LoadtestRequested

    d = make(db_url, tmp_path)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(40):  # 40 logged at a 50 % sample over 390 s: 80 requests
        logged = InferenceLogged(request_id=f"r{i}", route="sentiment", candidate_id="champ-1", prompt="p",
                                 response="r", input_tokens=90, output_tokens=3, sample_rate=0.5)
        at = start + timedelta(seconds=10 * i)
        await d.handle(new_event(logged, source="gateway").model_copy(update={"time": at}))
    d.tick()  # folds the traffic into the store
    restarted = make(db_url, tmp_path)
    await restarted.handle(new_event(submitted(), source="test"))
    await restarted.handle(new_event(evaluation("cand-1:dev-eval"), source="evaluator"))
    with Session(restarted.engine) as s:
        [lt] = [to_envelope(r).data for r in s.exec(select(OutboxEvent)).all()
                if r.envelope["type"] == LoadtestRequested.event_type]
    assert (lt.input_tokens, lt.output_tokens) == (90, 3)
    assert lt.monthly_requests is not None and round(lt.monthly_requests) == round(80 / 390 * 730 * 3600)
    assert lt.traffic_source == "production traffic logged on route sentiment (80 requests over 6.5 min)"
