"""Turns a `loadtest.requested` into a sweep, a cost summary, a report and the result
event. Idempotent by loadtest id: a finished run's event is stored beside its report and
returned again instead of re-running the load."""

from __future__ import annotations

import json
import os
from itertools import islice
from pathlib import Path

from schemas.candidate import ApiCost, CandidateSpec, Engine, GpuCost
from schemas.events.loadtests import (
    CostSummary,
    InputSizing,
    LevelResult,
    LoadtestCompleted,
    LoadtestRequested,
    Percentiles,
    TrafficUsed,
)
from schemas.task import TaskSpec
from services.loadtester.adapters.calibration import calibrate
from services.loadtester.adapters.client import new_session, probe
from services.loadtester.adapters.protocols import protocol_for
from services.loadtester.adapters.report import write_report
from services.loadtester.domain import cost as costs
from services.loadtester.domain.metrics import LevelSummary, Slo
from services.loadtester.domain.profiles import LengthProfile
from services.loadtester.domain.prompts import PromptShape
from services.loadtester.domain.records import RequestRecord
from services.loadtester.generator import LevelPlan, Progress
from services.loadtester.runner import LevelDone, SweepPlan, SweepResult, run_sweep


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


def _pct(p: dict[str, float] | None) -> Percentiles | None:
    return Percentiles(**p) if p else None


def level_result(s: LevelSummary) -> LevelResult:
    return LevelResult(level=s.level, requests=s.requests, errors=s.errors, request_rate=s.request_rate,
                       achieved_rate=s.achieved_rate, output_tokens_per_s=s.output_tokens_per_s,
                       input_tokens_per_s=s.input_tokens_per_s, goodput_rps=s.goodput_rps,
                       ttft_ms=_pct(s.ttft_ms), itl_ms=_pct(s.itl_ms), tpot_ms=_pct(s.tpot_ms), e2e_ms=_pct(s.e2e_ms),
                       client_bound=s.client_bound, target_rate=s.target_rate, errors_by_type=s.errors_by_type,
                       goodput_tokens_per_s=s.goodput_tokens_per_s, client=s.client,
                       mean_input_tokens=s.mean_input_tokens, target_input_tokens=s.target_input_tokens,
                       mean_output_tokens=s.mean_output_tokens, postprocess_ms=_pct(s.postprocess_ms),
                       error_reasons=s.error_reasons)


def best_throughput(levels: list[LevelSummary]) -> costs.Throughput | None:
    best = max(levels, key=lambda s: s.goodput_tokens_per_s, default=None)
    if best is None or best.goodput_rps <= 0:
        return None
    return costs.Throughput(best.goodput_rps, best.goodput_tokens_per_s, best.mean_input_tokens,
                            best.mean_output_tokens)


def cost_of(spec: CandidateSpec, tp: costs.Throughput, traffic: costs.Traffic | None) -> costs.Cost | None:
    if isinstance(spec.cost, GpuCost):
        return costs.gpu_cost(spec.cost.gpu_hourly_usd, tp, traffic)
    if isinstance(spec.cost, ApiCost):
        return costs.api_cost(spec.cost.input_per_1m_usd, spec.cost.output_per_1m_usd, tp, traffic)
    return None


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


async def champion_cost(req: LoadtestRequested, tp: costs.Throughput,
                        traffic: costs.Traffic | None) -> costs.Cost | None:
    """API champions are priced on the candidate's token profile; GPU champions need their
    own goodput, so they are measured with the same sweep."""
    champ = req.champion
    if champ is None or champ.cost is None:
        return None
    if isinstance(champ.cost, GpuCost):
        result = await measure(sweep_plan(req, champ, base_url(champ, None), req.champion_task_spec))
        champ_tp = best_throughput(result.levels)
        return cost_of(champ, champ_tp, traffic) if champ_tp else None
    return cost_of(champ, tp, traffic)


async def cost_summary(req: LoadtestRequested, levels: list[LevelSummary]) -> CostSummary | None:
    tp = best_throughput(levels)
    traffic = costs.Traffic(req.monthly_requests, req.peak_to_mean) if req.monthly_requests else None
    mine = cost_of(req.candidate, tp, traffic) if tp else None
    if mine is None or tp is None:
        return None
    champ = await champion_cost(req, tp, traffic)
    d_tokens, d_month = costs.delta(mine, champ) if champ else (None, None)
    return CostSummary(usd_per_1m_tokens=mine.usd_per_1m_tokens, usd_per_request=mine.usd_per_request,
                       monthly_usd=mine.monthly_usd,
                       champion_usd_per_1m_tokens=champ.usd_per_1m_tokens if champ else None,
                       delta_usd_per_1m_tokens=d_tokens, delta_monthly_usd=d_month)


def traffic_used(req: LoadtestRequested) -> TrafficUsed | None:
    """The traffic profile the monthly cost was computed at (none without a monthly volume)."""
    if req.monthly_requests is None:
        return None
    return TrafficUsed(requests_per_month=req.monthly_requests, input_tokens=req.input_tokens,
                       output_tokens=req.output_tokens, source=req.traffic_source or "the load test request")


def samples(records: list[RequestRecord], n: int = 5) -> list[dict[str, object]]:
    """A few answers as the user got them (after post-processing), for the report."""
    measured = islice((r for r in records if not r.warmup), n)
    return [{"input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "output": r.output[:500],
             "error": r.error, "error_reason": r.error_reason} for r in measured]


def _done_path(out_dir: Path) -> Path:
    return out_dir / "completed.json"


def report_dir(reports_dir: Path, loadtest_id: str) -> Path:
    return reports_dir / "loadtests" / loadtest_id


async def run_loadtest(req: LoadtestRequested, out_dir: Path, progress: Progress | None = None,
                       level_done: LevelDone | None = None, workers: int = 0,
                       lengths: LengthProfile | None = None) -> LoadtestCompleted:
    if _done_path(out_dir).exists():
        return LoadtestCompleted.model_validate_json(_done_path(out_dir).read_text())
    plan = sweep_plan(req, req.candidate)
    plan.workers = workers
    if lengths is not None:
        plan.base.lengths = lengths
    result = await measure(plan, progress, level_done)
    summary = await cost_summary(req, result.levels)
    sz = plan.base.sizing
    sizing = InputSizing(tokens_per_word=sz.tokens_per_word, overhead_tokens=sz.overhead_tokens, measured=sz.measured)
    extra = {"loadtest_id": req.loadtest_id, "candidate_id": req.candidate_id, "url": plan.base.url,
             "protocol": plan.base.protocol, "mode": plan.base.mode, "saturated_at": result.saturated_at,
             "cost": summary.model_dump() if summary else None, "input_sizing": sizing.model_dump(),
             "preprocess": [s.model_dump() for s in plan.base.shape.preprocess],
             "postprocess": [s.model_dump() for s in plan.base.postprocess], "samples": samples(result.records)}
    page = write_report(out_dir, f"load test {req.loadtest_id} ({req.candidate.name})", result.levels,
                        result.records, extra)
    done = LoadtestCompleted(loadtest_id=req.loadtest_id, candidate_id=req.candidate_id,
                             levels=[level_result(s) for s in result.levels], saturated_at=result.saturated_at,
                             cost=summary, report_path=str(page), results_path=str(out_dir / "results.json"),
                             input_sizing=sizing, traffic=traffic_used(req))
    _done_path(out_dir).write_text(json.dumps(done.model_dump(mode="json")))
    return done
