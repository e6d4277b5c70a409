"""One evaluation, end to end, with its I/O injected: used by the Kafka handler and by
`challenger eval` alike. It writes the results, the report and the per-item checkpoint; the
reply (the evaluation.completed payload) is the caller's to keep."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence

from schemas.events.evaluations import EvaluationCompleted, EvaluationRequested, GarakSummary
from schemas.task import DatasetItem
from services.evaluator.adapters.engine_http import PooledEngine
from services.evaluator.adapters.engines import Engines
from services.evaluator.adapters.garak_runner import GarakRunner, GarakUnavailable
from services.evaluator.adapters.report import write_report
from services.evaluator.adapters.runner import Progress, Runner, Scorer, generate_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.checks import EvaluationFailure, validate_task
from services.evaluator.domain.plan import Call, plan_calls
from services.evaluator.domain.scorecard import build_completed, failing_endpoint
from shared.engines import EngineClient, EngineError

ROUTE_WAIT_S = 30.0


async def preflight(engines: Engines, calls: Sequence[Call], *, wait_s: float = ROUTE_WAIT_S) -> None:
    """Fail fast, with the cause, when an endpoint cannot be reached at all; wait (up to
    `wait_s`) for one that lists its models without ours to start serving it."""
    for role, client in engines.clients.items():
        first = next((c for c in calls if c.role == role), None)
        if first is None:
            continue
        if await client.lists_model() is False:
            await _until_served(role, client, first, wait_s)
        elif not await client.health():
            try:
                await generate_for(client, first)
            except EngineError as exc:
                raise EvaluationFailure(f"{role} endpoint {client.base_url} is unreachable: {exc}") from exc


async def _until_served(role: str, client: EngineClient | PooledEngine, first: Call, wait_s: float) -> None:
    """The endpoint does not list our model: typically a gateway that has not yet applied the
    route.updated published with this evaluation's request (both travel on the bus, and the
    gateway may see its event a moment after we see ours; in CI the first call came 90 ms
    early and all 48 failed with 404). Probe with the first call until it is no longer a 404."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            await generate_for(client, first)
            return
        except EngineError as exc:
            if exc.status != 404:
                return  # served (or failing otherwise): the run counts each call's outcome
            if time.monotonic() >= deadline:
                raise EvaluationFailure(f"{role} endpoint {client.base_url} does not serve {client.model!r} "
                                        f"after waiting {wait_s:g} s: {exc}") from exc
        await asyncio.sleep(0.5)


async def evaluate(req: EvaluationRequested, datasets: Mapping[str, Sequence[DatasetItem]],
                   attacks: Sequence[DatasetItem], *, engines: Engines, store: EvaluationStore,
                   progress: Progress | None = None, n_boot: int = 10_000,
                   garak: GarakRunner | None = None) -> EvaluationCompleted:
    validate_task(req.task_spec, datasets)
    calls = plan_calls(req, datasets, attacks)
    if not calls:
        raise EvaluationFailure("nothing to evaluate: no dataset items and no requested kind applies")
    await preflight(engines, calls)
    scorer = Scorer(req.task_spec.metric, req.task_spec.metric_args,
                    {"candidate": req.candidate.postprocess,
                     "champion": req.champion.postprocess if req.champion else []}, engines.judge)
    try:
        results = await Runner(engines.clients, req.concurrency, store, progress).run(calls, scorer)
    finally:
        store.close()
    if reason := failing_endpoint(results):
        raise EvaluationFailure(reason)
    scan = await garak_scan(req, garak) if req.garak else None
    # CPU-bound (bootstrap, matplotlib) and file work: off the event loop, so Kafka heartbeats go on
    return await asyncio.to_thread(_finish, req, datasets, attacks, results, store, n_boot, scan)


async def garak_scan(req: EvaluationRequested, runner: GarakRunner | None) -> GarakSummary:
    """The requested garak probes against the same endpoint and model the other calls used."""
    assert req.garak is not None
    if runner is None:
        raise EvaluationFailure("garak probes were requested but this evaluator has no garak runner")
    base_url = req.target_url or (str(req.candidate.endpoint) if req.candidate.endpoint else None)
    if base_url is None:
        raise EvaluationFailure("garak scans an OpenAI-compatible endpoint: give target_url or an endpoint")
    key = os.environ.get(req.candidate.api_key_env) if req.candidate.api_key_env else None
    try:
        return await runner.scan(req.garak, base_url=base_url,
                                 model=req.candidate.model, api_key=key, run_id=req.evaluation_id)
    except GarakUnavailable as exc:
        raise EvaluationFailure(f"garak: {exc}") from exc


def _finish(req: EvaluationRequested, datasets: Mapping[str, Sequence[DatasetItem]], attacks: Sequence[DatasetItem],
            results: list, store: EvaluationStore, n_boot: int, scan: GarakSummary | None) -> EvaluationCompleted:
    done = build_completed(req, datasets, attacks, results, n_boot=n_boot).model_copy(update={"garak": scan})
    uri, sha = store.write_results(results)
    report = write_report(store.dir, done, results)
    return done.model_copy(update={"report_path": str(report), "results_uri": uri, "results_sha256": sha})
