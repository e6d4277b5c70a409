"""Wiring: the ONE place that builds the deployer, from real adapters or from the ones a test
passes. `DeployerService` says what it consumes (event type -> handler) and runs the canary
tick beside its consumers; the kit runs the rest (producer, outbox relay, inbox).

Two consumer groups: the pipeline's events, one at a time through the inbox; and the live
traffic on challenger.inference, a batch at a time, each batch folded into the routes'
volumes and the active canaries' stored arms in one transaction that also records what it
folded (the inbox would write a row per event)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.engine import Engine

from schemas.events import degradations, deployments, evaluations, inference, loadtests, models, prompts
from services.deployer.adapters import store
from services.deployer.adapters.policy_file import load_policy
from services.deployer.adapters.sglang_launch import ensure_serving
from services.deployer.config import DeployerSettings
from services.deployer.domain.driver import Env
from services.deployer.domain.live_traffic import CanaryTraffic
from services.deployer.handlers import TRAFFIC_BATCH, Deployer, Serving
from shared.kit.inbox import SqlInbox
from shared.kit.service import Consumes, Loop, Service, new_bus

log = logging.getLogger(__name__)
NAME = "deployer"


@dataclass(frozen=True)
class Adapters:
    engine: Engine  # the deployer's database, migrated (store.open_database)
    serving: Serving = ensure_serving  # an SGLang target must pass /health before a route points at it


@dataclass(kw_only=True)
class DeployerService(Service):
    name: ClassVar[str] = NAME
    settings: DeployerSettings
    deployer: Deployer

    def consumes(self) -> Sequence[Consumes]:
        d = self.deployer
        return [Consumes(self.settings.deployer_group, {
            models.ModelSubmitted: d.submitted,
            models.ModelStageChanged: d.stage_changed,
            models.StageChangeRejected: d.stage_rejected,
            models.ModelApproved: d.approved,
            evaluations.EvaluationCompleted: d.evaluated,
            evaluations.EvaluationFailed: d.failed,
            loadtests.LoadtestCompleted: d.loadtested,
            loadtests.LoadtestFailed: d.failed,
            prompts.PromptOptimized: d.optimized,
            prompts.PromptOptimizationFailed: d.failed,
            degradations.DegradationDetected: d.degraded,
            deployments.RouteUpdated: d.route_seen,
        }), Consumes(self.settings.deployer_traffic_group, {
            inference.InferenceLogged: d.fold_one,
            inference.FeedbackReceived: d.fold_one,
        }, dedup_key=None, batch=d.fold_traffic, max_records=TRAFFIC_BATCH)]

    async def start(self) -> None:
        """Before the consumers: the active canaries' routes are watched again, so what they
        log from the first event on is folded into their stored arms."""
        self.deployer.restore()

    def background(self) -> Sequence[Loop]:
        return [self._ticks]

    async def _ticks(self, stop: asyncio.Event) -> None:
        """Analyse the active canaries every `deployer_tick_s`; a failed tick is retried on the next."""
        while not stop.is_set():
            try:
                self.deployer.tick()
            except Exception:
                log.exception("canary tick failed; retrying next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.deployer_tick_s)


def real_adapters(settings: DeployerSettings) -> Adapters:
    settings.home.mkdir(parents=True, exist_ok=True)
    return Adapters(engine=store.open_database(settings.deployer_db_url))


def bootstrap(settings: DeployerSettings | None = None, adapters: Adapters | None = None) -> DeployerService:
    settings = settings or DeployerSettings()
    adapters = adapters or real_adapters(settings)
    env = Env(policy=load_policy(settings.deployer_policy), gateway_url=settings.gateway_url,
              gateway_key_env=settings.deployer_gateway_key_env)
    deployer = Deployer(adapters.engine, env, CanaryTraffic(), settings.home, adapters.serving,
                        traffic_group=settings.deployer_traffic_group)
    return DeployerService(settings=settings, bus=new_bus(settings, NAME), inbox=SqlInbox(adapters.engine),
                           outbox=adapters.engine, deployer=deployer)
