"""Which records of a degraded window are the failing samples, and why. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.monitor.domain.features import Record, present

Range = tuple[float, float]


@dataclass(frozen=True)
class Failing:
    record: Record
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return ",".join(self.reasons)


def reference_ranges(records: Sequence[Record], columns: Sequence[str], q: float = 0.05) -> dict[str, Range]:
    """The [q, 1-q] quantile range of each column in the reference."""
    ranges: dict[str, Range] = {}
    for col in columns:
        values = sorted(present([r.features.get(col, math.nan) for r in records]))
        if values:
            lo = values[int(q * (len(values) - 1))]
            hi = values[math.ceil((1 - q) * (len(values) - 1))]
            ranges[col] = (lo, hi)
    return ranges


def _outside(value: float | None, rng: Range | None) -> bool:
    return value is not None and rng is not None and not math.isnan(value) and not rng[0] <= value <= rng[1]


def reasons_of(record: Record, *, drifted: Sequence[str], ranges: Mapping[str, Range],
               latency_slo_ms: float | None, judge_floor: float = 0.5) -> tuple[str, ...]:
    f = record.features
    found = [
        *(["error"] if f.get("error") == 1.0 else []),
        *(["refusal"] if f.get("refusal") == 1.0 else []),
        *(["guardrail"] if f.get("guardrail_hits", 0.0) > 0 else []),
        *(["negative_feedback"] if f.get("feedback", 0.0) < 0 else []),
        *(["low_judge"] if f.get("judge", 1.0) < judge_floor else []),
        *(["latency_slo"] if latency_slo_ms is not None and f.get("latency_ms", 0.0) > latency_slo_ms else []),
    ]
    found += [f"drift:{col}" for col in drifted if _outside(f.get(col), ranges.get(col))]
    return tuple(found)


def failing_samples(records: Sequence[Record], *, drifted: Sequence[str], ranges: Mapping[str, Range],
                    latency_slo_ms: float | None, limit: int) -> list[Failing]:
    """The records with the most reasons first (stable within a tie), at most `limit`."""
    found = [Failing(r, why) for r in records
             if (why := reasons_of(r, drifted=drifted, ranges=ranges, latency_slo_ms=latency_slo_ms))]
    found.sort(key=lambda x: -len(x.reasons))
    return found[:limit]
