"""Degradation rules and hysteresis. Pure: a window's stats (and its drift share) in,
breaches out; the hysteresis state machine decides when breaches become an alarm."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.monitor.domain.stats import WindowStats


class RuleConfig(BaseModel):
    """Thresholds; a rule set to null is off. Rate rules compare with the reference window
    when there is one (an increase over it), else with the absolute level."""

    model_config = ConfigDict(extra="forbid")

    drift_share: float | None = Field(0.5, ge=0, le=1, description="share of drifted feature columns")
    error_rate: float | None = Field(0.2, ge=0, le=1)
    latency_p95_ms: float | None = Field(None, gt=0, description="latency SLO on the window's p95")
    refusal_increase: float | None = Field(0.25, ge=0, le=1, description="refusal rate rise over reference")
    feedback_drop: float | None = Field(0.5, ge=0, le=2, description="mean feedback fall vs reference")
    judge_drop: float | None = Field(0.25, ge=0, le=1, description="mean judge score fall vs reference")
    min_records: int = Field(10, ge=1, description="smaller windows are not judged")
    min_scored: int = Field(5, ge=1, description="fewest feedback/judge scores to judge a drop")


class HysteresisConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(2, ge=1, description="breaching windows among the last m that fire an alarm")
    m: int = Field(3, ge=1)
    cooldown_windows: int = Field(5, ge=0, description="windows after an alarm during which no new one fires")

    @model_validator(mode="after")
    def _k_le_m(self) -> HysteresisConfig:
        if self.k > self.m:
            raise ValueError(f"hysteresis k={self.k} must be <= m={self.m}")
        return self


@dataclass(frozen=True)
class Breach:
    rule: str
    value: float
    threshold: float

    def describe(self) -> str:
        return f"{self.rule}={self.value:.3g} (threshold {self.threshold:.3g})"


def _rise(current: float, reference: float | None) -> float:
    return current - (reference if reference is not None and not math.isnan(reference) else 0.0)


def _over(rule: str, value: float, threshold: float | None) -> list[Breach]:
    if threshold is None or math.isnan(value) or value <= threshold:
        return []
    return [Breach(rule, value, threshold)]


def _drop(rule: str, cur: float, cur_n: int, ref: float | None, threshold: float | None,
          min_n: int) -> list[Breach]:
    if ref is None or math.isnan(ref) or cur_n < min_n:
        return []
    return _over(rule, ref - cur, threshold)


def evaluate(cur: WindowStats, ref: WindowStats | None, drift_share: float | None,
             cfg: RuleConfig) -> list[Breach]:
    if cur.n < cfg.min_records:
        return []
    return [
        *_over("drift_share", math.nan if drift_share is None else drift_share, cfg.drift_share),
        *_over("error_rate", cur.error_rate, cfg.error_rate),
        *_over("latency_p95_ms", cur.latency_p95_ms, cfg.latency_p95_ms),
        *_over("refusal_spike", _rise(cur.refusal_rate, ref.refusal_rate if ref else None), cfg.refusal_increase),
        *_drop("feedback_drop", cur.feedback_mean, cur.feedback_n, ref.feedback_mean if ref else None,
               cfg.feedback_drop, cfg.min_scored),
        *_drop("judge_drop", cur.judge_mean, cur.judge_n, ref.judge_mean if ref else None,
               cfg.judge_drop, cfg.min_scored),
    ]


class Hysteresis:
    """Fires when k of the last m windows breached, then stays quiet for the cool-down. It keeps
    what each of those windows breached: the evidence the alarm quotes, which must survive a
    restart or a partition move as the counts do (`state`)."""

    def __init__(self, cfg: HysteresisConfig) -> None:
        self.cfg = cfg
        self._recent: deque[tuple[Breach, ...] | None] = deque(maxlen=cfg.m)  # None: breached, evidence unknown
        self._quiet = 0

    def state(self) -> dict[str, Any]:
        """What a restarted monitor needs to go on counting (and to keep its cool-down): JSON."""
        return {"recent": [w is None or bool(w) for w in self._recent],
                "breaches": [[[b.rule, b.value, b.threshold] for b in w] if w is not None else None
                             for w in self._recent],
                "quiet": self._quiet}

    @classmethod
    def restored(cls, cfg: HysteresisConfig, state: dict[str, Any]) -> Hysteresis:
        """From `state`, or a state written before the evidence was kept (`recent` alone)."""
        h = cls(cfg)
        recent = [bool(b) for b in state.get("recent", [])]
        evidence = state.get("breaches") or [None] * len(recent)
        h._recent.extend(tuple(Breach(str(rule), float(value), float(threshold)) for rule, value, threshold in w)
                         if w is not None else (None if breached else ())
                         for breached, w in zip(recent, evidence, strict=True))
        h._quiet = int(state.get("quiet", 0))
        return h

    def step(self, breaches: Sequence[Breach]) -> list[Breach] | None:
        """Count a judged window that breached `breaches` (none: a healthy one). When the alarm
        fires: the rules breached over the windows that fired it (a rule's latest breach wins),
        else None."""
        self._recent.append(tuple(breaches))
        if self._quiet > 0:
            self._quiet -= 1
            return None
        if sum(w is None or bool(w) for w in self._recent) < self.cfg.k:
            return None
        fired = merge_breaches(w for w in self._recent if w)
        self._quiet = self.cfg.cooldown_windows
        self._recent.clear()
        return fired


def merge_breaches(windows: Iterable[Sequence[Breach]]) -> list[Breach]:
    """The rules breached over the windows that fired an alarm; a rule's latest breach wins."""
    latest: dict[str, Breach] = {}
    for breaches in windows:
        latest |= {b.rule: b for b in breaches}
    return list(latest.values())
