"""The deployer through the real broker: a submission becomes an evaluation request, and a
degradation moves the route to its fallback within seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from schemas import new_event
from schemas.events import deployments, evaluations, models
from schemas.events.degradations import DegradationDetected
from schemas.events.deployments import RouteTable, RouteUpdated
from services.deployer.adapters import store
from services.deployer.config import DeployerSettings
from services.deployer.domain import routes
from services.deployer.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from tests.integration.bus.helpers import first_event as first
from tests.unit.deployer.factories import spec, submitted

pytestmark = pytest.mark.timeout(90)

@pytest.fixture
async def deployer(broker: str, uid: str, tmp_path: Path) -> AsyncIterator[Any]:
    settings = DeployerSettings(kafka_bootstrap=broker, home=tmp_path, deployer_group=f"deployer-{uid}",
                                deployer_tick_s=0.5, database_url=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.service.deployer



async def test_submission_publishes_the_evaluation_request(broker: str, uid: str, deployer: Any):
    cid = f"cand-{uid}"
    data = submitted(cid)
    async with EventProducer(broker) as producer:
        await producer.publish(new_event(data, source="test", correlation_id=f"corr-{uid}"))
    ev, _ = await first(broker, evaluations.TOPIC, f"t-{uid}",
                        lambda e: e.type == evaluations.EvaluationRequested.event_type and e.data.candidate_id == cid)
    assert ev.data.evaluation_id == f"{cid}:dev-eval" and ev.correlationid == f"corr-{uid}"
    assert ev.data.kinds == ["accuracy", "stability", "security"]
    req, _ = await first(broker, models.TOPIC, f"m-{uid}",
                         lambda e: e.type == models.StageChangeRequested.event_type and e.data.candidate_id == cid)
    assert req.data.to_stage == "evaluating" and req.data.actor == "deployer"

async def test_degradation_moves_the_route_to_its_fallback_within_seconds(broker: str, uid: str, deployer: Any):
    route, cand = f"route-{uid}", f"cand-{uid}"
    champion, candidate = routes.target(f"champ-{uid}", spec("champion")), routes.target(cand, spec())
    table = routes.canary(route, champion, candidate, 25)
    async with EventProducer(broker) as producer:
        await producer.publish(new_event(RouteUpdated(route=route, table=table, revision=7), source="test"))
        await _until(lambda: _known(deployer, route) is not None)
        sent = time.monotonic()
        await producer.publish(new_event(DegradationDetected(degradation_id=f"deg-{uid}", candidate_id=cand,
                                                             route=route, rules=["error_rate>0.2"]), source="test"))
    moved, at = await first(broker, deployments.TOPIC, f"d-{uid}",
                            lambda e: e.type == RouteUpdated.event_type and e.data.route == route
                            and e.data.revision > 7)
    assert [t.candidate_id for t in moved.data.table.targets] == [f"champ-{uid}"]
    assert at - sent < 10.0
    fb, _ = await first(broker, deployments.TOPIC, f"f-{uid}",
                        lambda e: e.type == deployments.FallbackActivated.event_type and e.data.route == route)
    assert fb.data.fallback_candidate_id == f"champ-{uid}" and fb.data.degradation_id == f"deg-{uid}"
    assert fb.causationid is not None

def _known(deployer: Any, route: str) -> RouteTable | None:
    with Session(deployer.engine) as s:
        return store.route_table(s, route)

async def _until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
