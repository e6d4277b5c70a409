"""Per-request latencies and per-level summaries. Pure: numbers in, numbers out.

TTFT: send -> first chunk with non-empty content. ITL: per token; a chunk carrying k
tokens after a gap g counts as k gaps of g/k. TPOT: (stream end - first chunk) / (output
tokens - 1). E2E: send -> the answer the user gets: the stream's end plus the candidate's
post-processing time, which is also reported on its own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from services.loadtester.domain.records import RequestRecord

QUANTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None


@dataclass
class LevelSummary:
    level: float
    requests: int
    errors: int
    errors_by_type: dict[str, int]
    duration_s: float
    request_rate: float  # completed requests / s
    target_rate: float | None
    achieved_rate: float | None  # sends / s
    input_tokens_per_s: float
    output_tokens_per_s: float
    goodput_rps: float
    goodput_tokens_per_s: float
    ttft_ms: dict[str, float] | None
    itl_ms: dict[str, float] | None
    tpot_ms: dict[str, float] | None
    e2e_ms: dict[str, float] | None
    mean_input_tokens: float = 0.0
    mean_output_tokens: float = 0.0
    tokens_estimated: bool = False
    client: dict[str, float] = field(default_factory=dict)
    client_bound: bool = False
    target_input_tokens: float = 0.0  # mean of what the length profile asked for
    postprocess_ms: dict[str, float] | None = None
    error_reasons: dict[str, str] = field(default_factory=dict)  # one example reason per error type


def ttft(r: RequestRecord) -> float:
    return r.chunk_times[0] - r.sent


def itls(r: RequestRecord) -> list[float]:
    out: list[float] = []
    for prev, now, k in zip(r.chunk_times, r.chunk_times[1:], r.chunk_tokens[1:], strict=False):
        out.extend([(now - prev) / max(1, k)] * max(1, k))
    return out


def tpot(r: RequestRecord) -> float | None:
    return (r.end - r.chunk_times[0]) / (r.output_tokens - 1) if r.output_tokens > 1 else None


def e2e(r: RequestRecord) -> float:
    return r.end - r.sent + (r.post_s or 0.0)


def percentiles(values_s: list[float]) -> dict[str, float] | None:
    if not values_s:
        return None
    arr = np.asarray(values_s) * 1000.0
    out = {name: float(np.percentile(arr, q)) for name, q in QUANTILES.items()}
    out["mean"] = float(arr.mean())
    return out


def meets(r: RequestRecord, slo: Slo) -> bool:
    if not r.ok:
        return False
    t = tpot(r)
    return ((slo.ttft_ms is None or ttft(r) * 1000 <= slo.ttft_ms)
            and (slo.tpot_ms is None or t is None or t * 1000 <= slo.tpot_ms)
            and (slo.e2e_ms is None or e2e(r) * 1000 <= slo.e2e_ms))


def achieved_rate(sends: list[float]) -> float | None:
    """Arrivals per second over the span of the sends: (n - 1) / (last - first)."""
    if len(sends) < 2:
        return None
    span = max(sends) - min(sends)
    return (len(sends) - 1) / span if span > 0 else None


def summarize(level: float, records: list[RequestRecord], slo: Slo, target_rate: float | None = None,
              client: dict[str, float] | None = None) -> LevelSummary:
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.ok]
    good = [r for r in ok if meets(r, slo)]
    start = min((r.sent for r in measured), default=0.0)
    stop = max((r.end for r in measured), default=0.0)
    duration = max(stop - start, 1e-9)
    errors = Counter(r.error or "empty_response" for r in measured if not r.ok)
    reasons: dict[str, str] = {}
    for r in measured:
        if r.error is not None and r.error_reason:
            reasons.setdefault(r.error, r.error_reason)
    return LevelSummary(
        level=level, requests=len(measured), errors=sum(errors.values()), errors_by_type=dict(errors),
        duration_s=duration, request_rate=len(ok) / duration, target_rate=target_rate,
        achieved_rate=achieved_rate([r.sent for r in measured]),
        input_tokens_per_s=sum(r.input_tokens for r in ok) / duration,
        output_tokens_per_s=sum(r.output_tokens for r in ok) / duration,
        goodput_rps=len(good) / duration,
        goodput_tokens_per_s=sum(r.input_tokens + r.output_tokens for r in good) / duration,
        ttft_ms=percentiles([ttft(r) for r in ok]),
        itl_ms=percentiles([g for r in ok for g in itls(r)]),
        tpot_ms=percentiles([t for r in ok if (t := tpot(r)) is not None]),
        e2e_ms=percentiles([e2e(r) for r in ok]),
        mean_input_tokens=float(np.mean([r.input_tokens for r in ok])) if ok else 0.0,
        mean_output_tokens=float(np.mean([r.output_tokens for r in ok])) if ok else 0.0,
        tokens_estimated=any(not r.tokens_from_usage for r in ok),
        client=client or {},
        client_bound=is_client_bound(client or {}),
        target_input_tokens=float(np.mean([r.input_target for r in ok])) if ok else 0.0,
        postprocess_ms=percentiles([r.post_s for r in ok if r.post_s is not None]),
        error_reasons=reasons,
    )


CLIENT_CPU_LIMIT = 0.90  # share of one core the client process may use before figures are suspect
LOOP_LAG_LIMIT_MS = 2.0  # median event-loop lag beyond which timestamps lose precision


def is_cpu_bound(client: dict[str, float]) -> bool:
    return client.get("cpu_share", 0.0) >= CLIENT_CPU_LIMIT


def is_client_bound(client: dict[str, float]) -> bool:
    """The client's own CPU or a late event loop (its own work or a crowded machine) limits
    the figures."""
    return is_cpu_bound(client) or client.get("loop_lag_p50_ms", 0.0) >= LOOP_LAG_LIMIT_MS


def saturation_index(levels: list[LevelSummary], min_gain: float = 0.05, latency_climb: float = 0.2) -> int | None:
    """Index of the first level where throughput stopped growing (< min_gain) while p50 E2E
    latency climbed (> latency_climb) against the previous level."""
    for i in range(1, len(levels)):
        prev, cur = levels[i - 1], levels[i]
        if not (prev.e2e_ms and cur.e2e_ms) or prev.output_tokens_per_s <= 0:
            continue
        gain = cur.output_tokens_per_s / prev.output_tokens_per_s - 1
        climb = cur.e2e_ms["p50"] / prev.e2e_ms["p50"] - 1
        if gain < min_gain and climb > latency_climb:
            return i
    return None
