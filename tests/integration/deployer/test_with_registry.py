"""The deployer with the REAL registry on the real broker: the registry applies (or refuses)
every move the deployer and operators request. Evaluator and load-tester results are
published by the test in their place."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from schemas import new_event
from services.deployer.adapters import operator, store
from services.deployer.config import DeployerSettings
from services.deployer.entrypoints.http import create_app as create_deployer
from services.deployer.handlers import Deployer
from services.registry.bootstrap import bootstrap
from services.registry.domain.consistency import CandidateView, GatewayView, TaskView, check
from services.registry.entrypoints.http import create_app as create_registry
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.unit.deployer.factories import evaluation, loadtest

pytestmark = pytest.mark.timeout(150)


async def stage_is(client: httpx.AsyncClient, cid: str, stage: str, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (current := (await client.get(f"/api/v1/candidates/{cid}")).json()["stage"]) != stage:
        assert time.monotonic() < deadline, f"registry stage is {current}, not {stage}"
        await asyncio.sleep(0.2)


@dataclass
class Wired:
    client: httpx.AsyncClient
    producer: EventProducer
    deployer: Deployer
    admin: dict[str, str]
    approver: str


@contextlib.asynccontextmanager
async def registry_and_deployer(broker: str, uid: str, tmp_path: Path) -> AsyncIterator[Wired]:
    reg_settings = Settings(home=tmp_path / "registry", DATABASE_URL=f"sqlite:///{tmp_path / 'registry.db'}",
                            kafka_bootstrap=broker)
    registry = bootstrap(reg_settings)
    admin = {"Authorization": f"Bearer {registry.admin_token}"}
    reg_app = create_registry(registry)
    dep_app = create_deployer(DeployerSettings(kafka_bootstrap=broker, home=tmp_path / "deployer",
                                               deployer_group=f"deployer-{uid}", deployer_tick_s=0.5,
                                               database_url=None))
    transport = httpx.ASGITransport(app=reg_app)
    async with reg_app.router.lifespan_context(reg_app), dep_app.router.lifespan_context(dep_app), \
            httpx.AsyncClient(transport=transport, base_url="http://registry") as client, \
            EventProducer(broker) as producer:
        bob = (await client.post("/api/v1/tokens", json={"name": f"bob-{uid}", "role": "approver"},
                                 headers=admin)).json()["token"]
        yield Wired(client, producer, dep_app.state.service.deployer, admin, bob)


async def through_approval(w: Wired, cid: str) -> None:
    """Answer for the evaluator and the load tester, then approve: the deployer asks for each move."""
    await w.producer.publish(new_event(evaluation(f"{cid}:dev-eval", cid=cid), source="evaluator"))
    await stage_is(w.client, cid, "load_testing")
    await w.producer.publish(new_event(loadtest(f"{cid}:loadtest").model_copy(update={"candidate_id": cid}),
                                       source="loadtester"))
    await stage_is(w.client, cid, "staging")
    await w.producer.publish(new_event(evaluation(f"{cid}:staging-eval", cid=cid, e2e=True, stage="staging"),
                                       source="evaluator"))
    await stage_is(w.client, cid, "awaiting_approval")
    approved = await w.client.post(f"/api/v1/candidates/{cid}/approve", json={"comment": "ok"},
                                   headers={"Authorization": f"Bearer {w.approver}"})
    assert approved.status_code in (200, 201), approved.text


BODY = {"model": "smollm2", "task": "capitals", "engine": "llamacpp", "endpoint": "http://127.0.0.1:8301/v1"}


async def test_registry_applies_the_deployers_moves_and_refuses_an_illegal_operator_move(
        broker: str, uid: str, tmp_path: Path) -> None:
    async with registry_and_deployer(broker, uid, tmp_path) as w:
        client = w.client
        resp = await client.post("/api/v1/candidates", json=BODY | {"name": f"dep-{uid}"}, headers=w.admin)
        assert resp.status_code in (200, 201), resp.text
        cid = resp.json()["id"]
        await stage_is(client, cid, "evaluating")

        refused = await operator.request_move(broker, cid, "production", actor="operator:eve",
                                              reason="skip the gauntlet", wait_s=30)
        assert refused.status == "refused" and "cannot move from evaluating to production" in refused.detail

        await through_approval(w, cid)
        await stage_is(client, cid, "production")  # no champion yet: canary -> production at once

        history: list[dict[str, Any]] = (await client.get(f"/api/v1/candidates/{cid}/history")).json()
        moves = [(h["to_stage"], h["actor"]) for h in history]
        assert moves == [("submitted", moves[0][1]), ("evaluating", "deployer"), ("load_testing", "deployer"),
                         ("dev_passed", "deployer"), ("staging", "deployer"), ("awaiting_approval", "deployer"),
                         ("approved", f"bob-{uid}"), ("canary", "deployer"), ("production", "deployer")]
        # the only candidate serving the task: nothing could take over, so the rollback is refused
        rolled = await operator.request_move(broker, cid, "rolled_back", actor="operator:ann", reason="pager",
                                             wait_s=30)
        assert rolled.status == "refused" and "has no standby to take over production" in rolled.detail


async def _route_serves(deployer: Deployer, primary: str, fallbacks: list[str], timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(deployer.engine) as s:
            table = store.route_table(s, "capitals")
        seen = (table and [t.candidate_id for t in table.targets], table and [t.candidate_id for t in table.fallbacks])
        if seen == ([primary], fallbacks):
            return
        assert time.monotonic() < deadline, f"route capitals is {seen}, not {([primary], fallbacks)}"
        await asyncio.sleep(0.2)


async def test_an_operator_promotion_then_rollback_leaves_one_champion_that_the_route_serves(
        broker: str, uid: str, tmp_path: Path) -> None:
    async with registry_and_deployer(broker, uid, tmp_path) as w:
        client = w.client
        old = (await client.post("/api/v1/candidates/import-champion", json=BODY | {"name": f"old-{uid}"},
                                 headers=w.admin)).json()["id"]
        new = (await client.post("/api/v1/candidates", json=BODY | {"name": f"new-{uid}"},
                                 headers=w.admin)).json()["id"]
        await stage_is(client, new, "evaluating")
        await through_approval(w, new)
        await stage_is(client, new, "canary")  # a champion to compare with: the canary waits for traffic

        promoted = await operator.request_move(broker, new, "production", actor="operator:ann", reason="looks good",
                                               wait_s=30)
        assert promoted.status == "applied"
        await stage_is(client, old, "standby")
        await _route_serves(w.deployer, new, [old])
        assert (await client.get("/api/v1/tasks/capitals")).json()["champion_id"] == new

        rolled = await operator.request_move(broker, new, "rolled_back", actor="operator:ann", reason="pager",
                                             wait_s=30)
        assert rolled.status == "applied"
        await stage_is(client, old, "production")
        await _route_serves(w.deployer, old, [])
        assert (await client.get("/api/v1/tasks/capitals")).json()["champion_id"] == old

        with Session(w.deployer.engine) as s:
            served = store.route_table(s, "capitals")
        assert served is not None
        report = (await client.get("/api/v1/consistency")).json()
        tasks = [TaskView(t["name"], t["champion_id"]) for t in (await client.get("/api/v1/tasks")).json()]
        rows = (await client.get("/api/v1/candidates", params={"limit": 10_000})).json()
        as_served = check(tasks, [CandidateView(c["id"], c["task"], c["stage"]) for c in rows],
                          [GatewayView("the deployer's table", [served])])
        assert report["problems"] == [] and as_served.problems == []
