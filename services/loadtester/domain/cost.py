"""Cost from measured goodput (in-house GPUs) or price tables (APIs). Pure arithmetic.

$/1M tokens counts input + output tokens. A GPU replica costs its hourly price whether
busy or not, so its $/token is the price over the goodput tokens it sustains in an hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Throughput:
    """Measured at the best level: good requests/s and good tokens/s, mean tokens per request."""

    goodput_rps: float
    goodput_tokens_per_s: float
    mean_input_tokens: float
    mean_output_tokens: float


@dataclass(frozen=True)
class Traffic:
    requests_per_month: float
    peak_to_mean: float = 1.0  # provision GPUs for the peak


@dataclass(frozen=True)
class Cost:
    usd_per_1m_tokens: float
    usd_per_request: float
    monthly_usd: float | None


def gpu_cost(gpu_hourly_usd: float, tp: Throughput, traffic: Traffic | None = None) -> Cost:
    if tp.goodput_tokens_per_s <= 0 or tp.goodput_rps <= 0:
        return Cost(math.inf, math.inf, math.inf if traffic else None)
    per_token = gpu_hourly_usd / (tp.goodput_tokens_per_s * 3600.0)
    per_request = gpu_hourly_usd / (tp.goodput_rps * 3600.0)
    monthly = None
    if traffic is not None:
        peak_rps = traffic.requests_per_month / (HOURS_PER_MONTH * 3600.0) * traffic.peak_to_mean
        replicas = max(1, math.ceil(peak_rps / tp.goodput_rps))
        monthly = replicas * gpu_hourly_usd * HOURS_PER_MONTH
    return Cost(per_token * 1e6, per_request, monthly)


def api_cost(input_per_1m: float, output_per_1m: float, tp: Throughput, traffic: Traffic | None = None) -> Cost:
    per_request = (tp.mean_input_tokens * input_per_1m + tp.mean_output_tokens * output_per_1m) / 1e6
    tokens = tp.mean_input_tokens + tp.mean_output_tokens
    per_1m = per_request / tokens * 1e6 if tokens else 0.0
    monthly = per_request * traffic.requests_per_month if traffic is not None else None
    return Cost(per_1m, per_request, monthly)


def delta(candidate: Cost, champion: Cost) -> tuple[float, float | None]:
    """(candidate - champion) in $/1M tokens and in $/month: negative means switching saves."""
    monthly = (candidate.monthly_usd - champion.monthly_usd
               if candidate.monthly_usd is not None and champion.monthly_usd is not None else None)
    return candidate.usd_per_1m_tokens - champion.usd_per_1m_tokens, monthly
