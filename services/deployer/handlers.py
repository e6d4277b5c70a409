"""Handlers: one typed event in, the driver's decision stored and its outputs staged in the
outbox, all in one transaction (`transaction(engine)`: inside the kit's inbox, the inbox's own,
which commits them with the event's handled mark, so a redelivery changes nothing).

Which event type goes to which handler is the service's table (bootstrap.DeployerService)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import Envelope, new_event
from schemas.events import deployments, evaluations, inference, loadtests, models, prompts
from schemas.events.degradations import DegradationDetected
from schemas.events.deployments import FallbackActivated, RouteTable
from services.deployer.adapters import store
from services.deployer.adapters.sglang_launch import NotServing, SglangUnavailable, ensure_serving
from services.deployer.domain import canary as ca
from services.deployer.domain import driver, live_traffic, routes
from services.deployer.domain.driver import ACTOR, Env, Output, Result
from services.deployer.domain.live_traffic import CanaryTraffic
from services.deployer.domain.run import ACTIVE_CANARY, Phase, Run
from services.deployer.domain.traffic_profile import LoggedTraffic, counts
from shared import outbox
from shared.bus.consumer import consuming
from shared.kit.inbox import transaction
from shared.pipeline import IllegalTransition, is_terminal

log = logging.getLogger(__name__)
SOURCE = "challenger-deployer"
Step = Callable[[Run], Result]
Serving = Callable[..., Awaitable[None]]
TRAFFIC_BATCH = 500  # logged inferences and feedback folded per transaction, at most


class Deployer:
    def __init__(self, engine: Engine, env: Env, traffic: CanaryTraffic, home: Path,
                 serving: Serving = ensure_serving, traffic_group: str = "deployer-traffic") -> None:
        self.engine, self.env, self.traffic, self.home, self._serving = engine, env, traffic, home, serving
        self.traffic_group = traffic_group  # whose partitions' folded ids the store keeps
        self._counted_before: dict[str, float] = {}  # per route (store.counted_before)

    # ---- pipeline events --------------------------------------------------------------

    async def submitted(self, e: Envelope[models.ModelSubmitted]) -> None:
        with transaction(self.engine) as s:
            if store.get_run(s, e.data.candidate_id) is not None:  # submitted again: the run goes on
                return
            result = self._decide(None, lambda _: driver.on_submitted(
                e.data, e.correlationid, self.env.policy.for_task(e.data.spec.task).workload))
            self._stage(s, result.run, result.out, e)

    async def stage_changed(self, e: Envelope[models.ModelStageChanged]) -> None:
        if is_terminal(e.data.to_stage):
            self._unlist_fallback(e.data)
        await self._step(e, lambda run: driver.on_stage_changed(run, e.data, self.env))

    def _unlist_fallback(self, moved: models.ModelStageChanged) -> None:
        """A candidate that left for good (an operator retired the standby, say) is no fallback
        any more: its task's route stops listing it (a no-op once the route has moved on)."""
        with transaction(self.engine) as s:
            table = store.route_table(s, routes.prod_route(moved.task))
            trimmed = routes.without_fallback(table, moved.candidate_id) if table is not None else None
            if trimmed is not None:
                self._stage(s, None, [trimmed], None)

    async def stage_rejected(self, e: Envelope[models.StageChangeRejected]) -> None:
        d = e.data
        if d.actor == ACTOR:
            log.warning("registry refused %s -> %s: %s", d.candidate_id, d.to_stage, d.reason)
        await self._step(e, lambda run: driver.on_rejected(run, d.to_stage, d.actor, d.reason))

    async def approved(self, e: Envelope[models.ModelApproved]) -> None:
        await self._step(e, lambda run: driver.on_approved(run, e.data, self.env))

    async def evaluated(self, e: Envelope[evaluations.EvaluationCompleted]) -> None:
        logged = self.logged_traffic(routes.prod_route(e.data.task))
        await self._step(e, lambda run: driver.on_evaluation_completed(run, e.data, self.env, logged))

    async def loadtested(self, e: Envelope[loadtests.LoadtestCompleted]) -> None:
        await self._step(e, lambda run: driver.on_loadtest_completed(run, e.data, self.env))

    async def optimized(self, e: Envelope[prompts.PromptOptimized]) -> None:
        await self._step(e, lambda run: driver.on_prompt_optimized(run, e.data))

    async def failed(self, e: Envelope[Any]) -> None:
        reason = f"{e.type.removeprefix('io.challenger.')}: {e.data.reason}"
        await self._step(e, lambda run: driver.reject(Result(run), reason))

    async def _step(self, e: Envelope[Any], step: Step) -> None:
        with transaction(self.engine) as s:
            run = store.get_run(s, e.data.candidate_id)
            if run is None:  # not a run this deployer drives
                return
            result = await self._checked(run, self._decide(run, step))
            self._stage(s, result.run, result.out, e)

    def _decide(self, run: Run | None, step: Callable[[Run | None], Result]) -> Result:
        try:
            return step(run)  # type: ignore[arg-type]
        except IllegalTransition as exc:
            assert run is not None
            log.warning("not requesting an illegal move for %s: %s", run.candidate_id, exc)
            return Result(run.noted(ACTOR, "refused illegal transition", str(exc)))

    async def _checked(self, before: Run, result: Result) -> Result:
        """Entering staging or the canary: an SGLang target must pass /health before a route
        points at it (started locally from its launch spec where sglang is installed)."""
        abandon = {Phase.staging: driver.abandon_staging, Phase.canary: driver.abandon_canary}.get(result.run.phase)
        if abandon is None or before.phase == result.run.phase:
            return result
        try:
            await self._serving(result.run.spec, result.run.candidate_id, self.home)
        except (NotServing, SglangUnavailable, OSError, RuntimeError) as exc:
            reason = str(exc)
            return self._decide(result.run, lambda _: abandon(result, reason))
        return result

    # ---- fallback -----------------------------------------------------------------------

    async def degraded(self, e: Envelope[DegradationDetected]) -> None:
        d = e.data
        with transaction(self.engine) as s:
            reason = f"degradation {d.degradation_id}: {', '.join(d.rules)}"
            moved = self._fallback(store.route_table(s, d.route), d, reason)
            out: list[Output] = list(moved) if moved else []
            run = store.get_run(s, d.candidate_id)
            if run is not None and run.phase in ACTIVE_CANARY:
                result = self._decide(run, lambda r: driver.rollback(Result(r), self.env, reason, immediate=True))
                # the fallback already moved the route; keep its table
                run, out = result.run, out + [o for o in result.out if not (moved and isinstance(o, RouteTable))]
            elif moved:  # a serving candidate lost its route: the registry records who serves now
                run, request = driver.record_fallback(run, moved[1])
                out.append(request)
            self._stage(s, run, out, e)

    @staticmethod
    def _fallback(table: RouteTable | None, d: DegradationDetected,
                  reason: str) -> tuple[RouteTable, FallbackActivated] | None:
        moved = routes.fallback_table(table, d.candidate_id) if table is not None else None
        if moved is None:
            log.error("degradation on %s for %s but the route has no fallback", d.route, d.candidate_id)
            return None
        new, chosen = moved
        return new, FallbackActivated(candidate_id=d.candidate_id, route=d.route, reason=reason,
                                      fallback_candidate_id=chosen.candidate_id, degradation_id=d.degradation_id)

    async def route_seen(self, e: Envelope[deployments.RouteUpdated]) -> None:
        with transaction(self.engine) as s:
            store.remember_route(s, e.data.table, e.data.revision)

    # ---- live traffic, folded into the stored arms per batch, and the canary tick ---------

    async def fold_traffic(self, batch: list[Envelope[Any]]) -> None:
        """One fetched batch of logged inferences and feedback, folded in one transaction before
        the consumer commits the batch's offsets: the routes' volumes (each logged inference
        once: store.fold_volumes) and what counts for an active canary into its stored arms
        (each request and feedback once: store.fold_batch). A crash loses none of it."""
        requests: list[tuple[str, live_traffic.Observation]] = []
        feedback: list[store.Feedback] = []
        logged: list[store.Logged] = []
        before = self._counted_before
        for e in batch:
            if isinstance(e.data, inference.InferenceLogged):
                at = e.time.timestamp()
                if counts(e.data) and (not before or at > before.get(e.data.route, float("-inf"))):
                    logged.append((e.id, e.data, at))
                if (seen := self.traffic.observation(e.data, at)) is not None:
                    requests.append((e.data.request_id, seen))
            elif isinstance(e.data, inference.FeedbackReceived) and self.traffic.active:
                feedback.append((e.id, e.data.request_id, e.data.score))
        if not (logged or requests or feedback):
            return
        with transaction(self.engine) as s:
            if logged:
                part = consuming()
                source = f"{part.topic}:{part.partition}" if part is not None else "-"
                store.fold_volumes(s, self.traffic_group, source, logged, keep=TRAFFIC_BATCH)
            if requests or feedback:
                store.fold_batch(s, requests, feedback)

    async def fold_one(self, e: Envelope[Any]) -> None:
        """One event of a batch that failed, handled on its own (the consumer's retry)."""
        await self.fold_traffic([e])

    def logged_traffic(self, route: str) -> LoggedTraffic | None:
        """What the gateway logged on `route` (folded into the store per consumed batch)."""
        with transaction(self.engine) as s:
            return store.logged_traffic(s, route)

    def restore(self) -> int:
        """On start: watch the routes of the active canaries again (their arms are in the
        store); a route's traffic counted before migration 0003 is not counted again."""
        with transaction(self.engine) as s:
            runs = store.runs_in(s, ACTIVE_CANARY)
            for run in runs:
                self._watch(s, run)
            self._counted_before = store.counted_before(s)
        return len(runs)

    def tick(self) -> int:
        """Analyse every active canary once, each in its own transaction: the observations
        stored since the last tick are merged into the run and the decision staged together."""
        with transaction(self.engine) as s:
            runs = store.runs_in(s, ACTIVE_CANARY)
            store.forget_canaries_except(s, {r.candidate_id for r in runs})
        self.traffic.unwatch_except({routes.prod_route(r.task) for r in runs})
        for run in runs:
            with transaction(self.engine) as s:
                champion, candidate = store.take_arms(s, run.candidate_id)
                old_champion, old_candidate = run.arms()
                merged = run.with_arms(ca.merge(old_champion, champion), ca.merge(old_candidate, candidate))
                result = self._decide(merged, lambda r: driver.canary_tick(r, self.env))
                self._stage(s, result.run, result.out, None)
        return len(runs)

    # ---- persistence ----------------------------------------------------------------------

    def _stage(self, s: Session, run: Run | None, out: Sequence[Output], cause: Envelope[Any] | None) -> None:
        """The run and its outputs (route tables become revisions) into `s`; its transaction commits them."""
        correlation = run.correlation_id if run is not None else None
        for item in out:
            data = store.route_update(s, item) if isinstance(item, RouteTable) else item
            if data is not None:
                outbox.add(s, new_event(data, source=SOURCE, cause=cause, correlation_id=correlation))
        if run is not None:
            store.put_run(s, run)
            self._watch(s, run)

    def _watch(self, s: Session, run: Run) -> None:
        """An active canary's route is watched; its stored arms collect from when it began."""
        if run.phase in ACTIVE_CANARY and run.champion_id is not None:
            slo = self.env.policy.for_task(run.task).canary.latency_slo_ms
            since = store.open_canary(s, run.candidate_id, datetime.now(UTC).timestamp())
            self.traffic.watch(routes.prod_route(run.task), run.champion_id, run.candidate_id, slo, since)
