"""A whole run through the real broker up to the canary, then live traffic with injected
errors on challenger.inference: the deployer rolls the canary back to the champion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from schemas import new_event
from schemas.events import deployments
from schemas.events.deployments import CanaryStepChanged, RouteUpdated
from schemas.events.models import ModelApproved
from services.deployer.adapters import store
from services.deployer.config import DeployerSettings
from services.deployer.domain.run import Phase
from services.deployer.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from tests.integration.bus.helpers import first_event as first
from tests.unit.deployer.factories import evaluation, loadtest, submitted, traffic

pytestmark = pytest.mark.timeout(120)

POLICY = """
defaults:
  canary: {steps: [5, 25, 50, 100], min_samples: 50, min_samples_per_step: 50}
"""


@pytest.fixture
async def deployer(broker: str, uid: str, tmp_path: Path) -> AsyncIterator[Any]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = DeployerSettings(kafka_bootstrap=broker, home=tmp_path, deployer_group=f"deployer-{uid}",
                                deployer_tick_s=0.5, deployer_policy=policy, database_url=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.service.deployer


async def wait_phase(deployer: Any, cid: str, phase: Phase, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(deployer.engine) as s:
            run = store.get_run(s, cid)
        if run is not None and run.phase == phase:
            return
        assert time.monotonic() < deadline, f"run is in {run.phase if run else None}, not {phase}"
        await asyncio.sleep(0.1)


async def test_injected_errors_on_live_traffic_roll_the_canary_back(broker: str, uid: str, deployer: Any):
    cid, champion, task = f"cand-{uid}", "champ-1", "sentiment"
    sub = submitted(cid)
    async with EventProducer(broker) as p:
        await p.publish(new_event(sub, source="registry"))
        await wait_phase(deployer, cid, Phase.dev_eval)
        await p.publish(new_event(evaluation(f"{cid}:dev-eval", cid=cid), source="evaluator"))
        await wait_phase(deployer, cid, Phase.loadtest)
        await p.publish(new_event(loadtest(f"{cid}:loadtest").model_copy(update={"candidate_id": cid}),
                                  source="loadtester"))
        await wait_phase(deployer, cid, Phase.staging)
        await p.publish(new_event(evaluation(f"{cid}:staging-eval", cid=cid, e2e=True, stage="staging"),
                                  source="evaluator"))
        await wait_phase(deployer, cid, Phase.awaiting_approval)
        await p.publish(new_event(ModelApproved(candidate_id=cid, approver="bob"), source="registry"))
        await wait_phase(deployer, cid, Phase.canary)
        live = traffic(champion, 150, seed=1, error_rate=0.01) + traffic(cid, 150, seed=2, error_rate=0.3)
        await p.publish_many(new_event(ev, source="gateway") for ev in live)
    step, _ = await first(broker, deployments.TOPIC, f"c-{uid}",
                          lambda e: e.type == CanaryStepChanged.event_type and e.data.candidate_id == cid
                          and e.data.decision == "rollback", timeout_s=45)
    assert step.data.analysis["error_rate.low"] > 0 and step.data.route == task, step.data.reason
    back, _ = await first(broker, deployments.TOPIC, f"r-{uid}",
                          lambda e: e.type == RouteUpdated.event_type and e.data.route == task
                          and e.causationid is None and [t.candidate_id for t in e.data.table.targets] == [champion]
                          and e.correlationid == step.correlationid)
    assert back.data.table.targets[0].weight == 1.0
