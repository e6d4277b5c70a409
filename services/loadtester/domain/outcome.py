"""The loadtest.completed payload's parts, from what the sweep measured: each level's figures,
the throughput the cost model prices, the traffic profile it priced at, sample answers."""

from __future__ import annotations

from itertools import islice

from schemas.candidate import ApiCost, CandidateSpec, GpuCost
from schemas.events.loadtests import LevelResult, LoadtestRequested, Percentiles, TrafficUsed
from services.loadtester.domain import cost as costs
from services.loadtester.domain.metrics import LevelSummary
from services.loadtester.domain.records import RequestRecord


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
