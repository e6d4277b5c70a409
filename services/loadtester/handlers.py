"""Turns a `loadtest.requested` into a sweep, a cost summary, a report and the result event.

The consumer's inbox runs each load test once (keyed by loadtest_id). Its reply, a result or a
failure, is stored before it is published (shared.kit.replies): a request redelivered after a
crash between the two publishes the stored reply instead of loading the endpoint again, and a
duplicate the inbox recognises is answered with it. A run interrupted mid-sweep runs again from
the start (a partial sweep is not a measurement)."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.candidate import CandidateSpec, Engine, GpuCost
from schemas.envelope import Envelope
from schemas.events.loadtests import CostSummary, InputSizing, LoadtestCompleted, LoadtestFailed, LoadtestRequested
from schemas.task import TaskSpec
from services.loadtester.adapters.calibration import calibrate
from services.loadtester.adapters.client import new_session, probe
from services.loadtester.adapters.generator import LevelPlan, Progress
from services.loadtester.adapters.protocols import protocol_for
from services.loadtester.adapters.report import write_report
from services.loadtester.adapters.sweep import LevelDone, SweepPlan, SweepResult, run_sweep
from services.loadtester.domain import cost as costs
from services.loadtester.domain.metrics import LevelSummary, Slo
from services.loadtester.domain.outcome import best_throughput, cost_of, level_result, samples, traffic_used
from services.loadtester.domain.profiles import LengthProfile
from services.loadtester.domain.prompts import PromptShape
from shared.bus.producer import EventProducer
from shared.kit.replies import Replies

log = logging.getLogger(__name__)
SOURCE = "loadtester"
Measure = Callable[[SweepPlan, Progress | None, LevelDone | None], Awaitable[SweepResult]]


class Unreachable(RuntimeError):
    pass


def base_url(candidate: CandidateSpec, target_url: str | None) -> str:
    url = target_url or (str(candidate.endpoint) if candidate.endpoint else None)
    if url is None and candidate.launch is not None:
        url = f"http://127.0.0.1:{candidate.launch.port}"
    if url is None:
        raise ValueError("candidate has no endpoint and the request no target_url")
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def default_protocol(candidate: CandidateSpec, style: str) -> str:
    """The API production calls: SGLang's native one, or OpenAI chat / completions by the prompt style."""
    if candidate.engine == Engine.sglang:
        return "sglang"
    return "openai-completions" if style == "completion" else "openai-chat"


def sweep_plan(req: LoadtestRequested, candidate: CandidateSpec, url: str | None = None,
               task: TaskSpec | None = None) -> SweepPlan:
    """The sweep for `candidate`, its inputs shaped by its own steps and `task` (default: the request's)."""
    shape = PromptShape(tuple(candidate.preprocess), task or req.task_spec)
    protocol = req.protocol or default_protocol(candidate, shape.style)
    ranged = req.input_tokens_max is not None or req.output_tokens_max is not None
    lengths = LengthProfile("uniform" if ranged else "fixed", req.input_tokens, req.output_tokens,
                            req.input_tokens_max, req.output_tokens_max)
    key = os.environ.get(candidate.api_key_env) if candidate.api_key_env else None
    base = LevelPlan(url=url or base_url(candidate, req.target_url), model=candidate.model, protocol=protocol,
                     mode=req.mode, requests=req.requests_per_level, duration_s=req.duration_s,
                     warmup=req.warmup_requests, lengths=lengths, burstiness=req.burstiness, api_key=key,
                     shape=shape, postprocess=tuple(candidate.postprocess), timeout_s=req.request_timeout_s)
    return SweepPlan(base, list(req.levels), Slo(req.slo.ttft_ms, req.slo.tpot_ms, req.slo.e2e_ms))


async def _prepare(base: LevelPlan) -> None:
    """Fails fast on an endpoint that does not answer; sizes inputs on the server's token counts."""
    async with new_session(min(base.timeout_s, 120.0)) as session:
        why = await probe(session, base.url)
        if why is not None:
            raise Unreachable(f"endpoint {base.url} unreachable: {why}")
        base.sizing = await calibrate(session, base.url, protocol_for(base.protocol), base.model, base.shape,
                                      base.headers())


async def measure(plan: SweepPlan, progress: Progress | None = None,
                  level_done: LevelDone | None = None) -> SweepResult:
    await _prepare(plan.base)
    return await run_sweep(plan, progress, level_done)


async def champion_cost(req: LoadtestRequested, tp: costs.Throughput, traffic: costs.Traffic | None,
                        measure: Measure = measure) -> costs.Cost | None:
    """API champions are priced on the candidate's token profile; GPU champions need their
    own goodput, so they are measured with the same sweep."""
    champ = req.champion
    if champ is None or champ.cost is None:
        return None
    if isinstance(champ.cost, GpuCost):
        result = await measure(sweep_plan(req, champ, base_url(champ, None), req.champion_task_spec), None, None)
        champ_tp = best_throughput(result.levels)
        return cost_of(champ, champ_tp, traffic) if champ_tp else None
    return cost_of(champ, tp, traffic)


async def cost_summary(req: LoadtestRequested, levels: list[LevelSummary],
                       measure: Measure = measure) -> CostSummary | None:
    tp = best_throughput(levels)
    traffic = costs.Traffic(req.monthly_requests, req.peak_to_mean) if req.monthly_requests else None
    mine = cost_of(req.candidate, tp, traffic) if tp else None
    if mine is None or tp is None:
        return None
    champ = await champion_cost(req, tp, traffic, measure)
    d_tokens, d_month = costs.delta(mine, champ) if champ else (None, None)
    return CostSummary(usd_per_1m_tokens=mine.usd_per_1m_tokens, usd_per_request=mine.usd_per_request,
                       monthly_usd=mine.monthly_usd,
                       champion_usd_per_1m_tokens=champ.usd_per_1m_tokens if champ else None,
                       delta_usd_per_1m_tokens=d_tokens, delta_monthly_usd=d_month)


def report_dir(reports_dir: Path, loadtest_id: str) -> Path:
    return reports_dir / "loadtests" / loadtest_id


async def run_loadtest(req: LoadtestRequested, out_dir: Path, progress: Progress | None = None,
                       level_done: LevelDone | None = None, workers: int = 0,
                       lengths: LengthProfile | None = None, *, measure: Measure = measure) -> LoadtestCompleted:
    """One load test: the sweep, its cost, the report in `out_dir`; the service and
    `challenger bench` both call it."""
    plan = sweep_plan(req, req.candidate)
    plan.workers = workers
    if lengths is not None:
        plan.base.lengths = lengths
    result = await measure(plan, progress, level_done)
    summary = await cost_summary(req, result.levels, measure)
    sz = plan.base.sizing
    sizing = InputSizing(tokens_per_word=sz.tokens_per_word, overhead_tokens=sz.overhead_tokens, measured=sz.measured)
    extra = {"loadtest_id": req.loadtest_id, "candidate_id": req.candidate_id, "url": plan.base.url,
             "protocol": plan.base.protocol, "mode": plan.base.mode, "saturated_at": result.saturated_at,
             "cost": summary.model_dump() if summary else None, "input_sizing": sizing.model_dump(),
             "preprocess": [s.model_dump() for s in plan.base.shape.preprocess],
             "postprocess": [s.model_dump() for s in plan.base.postprocess], "samples": samples(result.records)}
    page = write_report(out_dir, f"load test {req.loadtest_id} ({req.candidate.name})", result.levels,
                        result.records, extra)
    return LoadtestCompleted(loadtest_id=req.loadtest_id, candidate_id=req.candidate_id,
                             levels=[level_result(s) for s in result.levels], saturated_at=result.saturated_at,
                             cost=summary, report_path=str(page), results_path=str(out_dir / "results.json"),
                             input_sizing=sizing, traffic=traffic_used(req))


# ---- the service's consumer ------------------------------------------------------------

@dataclass(frozen=True)
class Deps:
    bus: EventProducer
    reports_dir: Path
    measure: Measure = measure

    @property
    def replies(self) -> Replies:
        return Replies(self.bus, SOURCE, (LoadtestCompleted, LoadtestFailed),
                       lambda request: report_dir(self.reports_dir, request.data.loadtest_id))


async def on_requested(envelope: Envelope[Any], deps: Deps) -> None:
    await deps.replies.answer(envelope, lambda: _outcome(envelope.data, deps))


async def _outcome(req: LoadtestRequested, deps: Deps) -> LoadtestCompleted | LoadtestFailed:
    """The result, or any failure of the run as a `failed` reply with the reason."""
    try:
        return await run_loadtest(req, report_dir(deps.reports_dir, req.loadtest_id), measure=deps.measure)
    except Exception as exc:  # a bad endpoint or spec must not stop the consumer
        log.warning("load test %s failed: %s", req.loadtest_id, exc)
        return LoadtestFailed(loadtest_id=req.loadtest_id, candidate_id=req.candidate_id,
                              reason=f"{type(exc).__name__}: {exc}"[:2000])
