"""Summary statistics of a window of records. Pure."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from services.monitor.domain.features import Record, present

NAN = float("nan")


@dataclass(frozen=True)
class WindowStats:
    n: int
    error_rate: float
    refusal_rate: float
    json_valid_rate: float
    guardrail_rate: float
    latency_p95_ms: float
    ttft_p95_ms: float
    feedback_mean: float
    feedback_n: int
    judge_mean: float
    judge_n: int


def _column(records: Sequence[Record], name: str) -> list[float]:
    return present([r.features.get(name, NAN) for r in records])


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else NAN


def p95(values: list[float]) -> float:
    if not values:
        return NAN
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def window_stats(records: Sequence[Record]) -> WindowStats:
    feedback, judge = _column(records, "feedback"), _column(records, "judge")
    return WindowStats(
        n=len(records),
        error_rate=_mean(_column(records, "error")),
        refusal_rate=_mean(_column(records, "refusal")),
        json_valid_rate=_mean(_column(records, "json_valid")),
        guardrail_rate=_mean([min(v, 1.0) for v in _column(records, "guardrail_hits")]),
        latency_p95_ms=p95(_column(records, "latency_ms")),
        ttft_p95_ms=p95(_column(records, "ttft_ms")),
        feedback_mean=_mean(feedback), feedback_n=len(feedback),
        judge_mean=_mean(judge), judge_n=len(judge),
    )
