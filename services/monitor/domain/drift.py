"""The outcome of a drift comparison between a reference and a current window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DriftResult:
    share: float
    drifted: tuple[str, ...]
    scores: dict[str, float]
    report_path: str | None = None


NO_DRIFT = DriftResult(0.0, (), {})
