"""Wiring: the ONE place that builds the deployer from real adapters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from sqlmodel import Session

from schemas.events import degradations, deployments, evaluations, inference, loadtests, models, prompts
from services.deployer.adapters import store
from services.deployer.adapters.policy_file import DEFAULT_POLICY, load_policy
from services.deployer.config import DeployerSettings
from services.deployer.domain.driver import Env
from services.deployer.handlers import Deployer
from services.deployer.traffic import CanaryTraffic
from shared.db import make_engine
from shared.outbox import OutboxRelay
from shared.runtime import ServiceContext, Subscription, service_app

TOPICS = [models.TOPIC, evaluations.TOPIC, loadtests.TOPIC, prompts.TOPIC, deployments.TOPIC, degradations.TOPIC,
          inference.TOPIC]


def build_deployer(settings: DeployerSettings) -> Deployer:
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.deployer_db_url)
    store.create_tables(engine)
    env = Env(policy=load_policy(settings.deployer_policy), gateway_url=settings.gateway_url,
              gateway_key_env=settings.deployer_gateway_key_env)
    return Deployer(engine, env, CanaryTraffic(), settings.home)


def create_app(settings: DeployerSettings | None = None) -> FastAPI:
    settings = settings or DeployerSettings()
    deployer = build_deployer(settings)
    stop = asyncio.Event()

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        relay = OutboxRelay(deployer.engine, ctx.producer, bootstrap=settings.kafka_bootstrap,
                            retention_s=settings.outbox_retention_s)
        ctx.state["tasks"] = [asyncio.create_task(relay.run(stop)),
                              asyncio.create_task(deployer.run_ticks(stop, settings.deployer_tick_s))]
        return [Subscription(TOPICS, settings.deployer_group, deployer.handle, types=deployer.types)]

    async def on_stop(ctx: ServiceContext) -> None:
        stop.set()
        await asyncio.gather(*ctx.state.get("tasks", []), return_exceptions=True)

    app = FastAPI(title="challenger-deployer")
    app.include_router(_read_routes(deployer, settings.deployer_policy or DEFAULT_POLICY))
    app.state.deployer = deployer
    return service_app("deployer", wire, settings=settings, app=app, on_stop=on_stop)


def _read_routes(deployer: Deployer, policy_path: Path) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["deployer"])

    @router.get("/runs")
    def list_runs(limit: int = 100) -> list[dict[str, Any]]:
        with Session(deployer.engine) as s:
            return [_summary(r.model_dump(mode="json")) for r in store.all_runs(s, min(max(limit, 1), 1000))]

    @router.get("/runs/{candidate_id}")
    def get_run(candidate_id: str) -> dict[str, Any]:
        with Session(deployer.engine) as s:
            run = store.get_run(s, candidate_id)
        if run is None:
            raise HTTPException(404, f"no pipeline run for candidate {candidate_id!r}")
        return run.model_dump(mode="json")

    @router.get("/policy")
    def policy() -> dict[str, Any]:
        return deployer.env.policy.model_dump(mode="json")

    @router.get("/policy/effective")
    def effective_policy(task: str | None = None) -> dict[str, Any]:
        """The policy in force for `task` (or the defaults), each value with the section it came from."""
        return {"file": str(policy_path), **deployer.env.policy.describe(task)}

    return router


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("candidate_id", "task", "stage", "expected", "phase", "canary_step", "last_analysis")
    return {k: run.get(k) for k in keys} | {"last_event": (run.get("history") or [{}])[-1]}
