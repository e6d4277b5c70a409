"""The deployer over HTTP: the kit's /health and /metrics, and read-only views of its pipeline
runs and of the promotion policy it judges with (`challenger deployer runs`, `policy show`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from sqlmodel import Session

from services.deployer.adapters import store
from services.deployer.adapters.policy_file import DEFAULT_POLICY
from services.deployer.bootstrap import DeployerService, bootstrap
from services.deployer.config import DeployerSettings
from services.deployer.handlers import Deployer
from shared.kit.service import http_app


def create_app(settings: DeployerSettings | None = None, service: DeployerService | None = None) -> FastAPI:
    service = service or bootstrap(settings)
    app = FastAPI(title="challenger-deployer")
    app.include_router(read_routes(service.deployer, service.settings.deployer_policy or DEFAULT_POLICY))
    return http_app(service, app)


def read_routes(deployer: Deployer, policy_path: Path) -> APIRouter:
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
