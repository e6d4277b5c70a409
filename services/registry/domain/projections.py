"""How each result event becomes one read-model row: declared once, as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas import EventData
from schemas.events import degradations as dg
from schemas.events import deployments as dp
from schemas.events import evaluations as ev
from schemas.events import loadtests as lt
from schemas.events import prompts as pr


@dataclass(frozen=True)
class ResultRow:
    kind: str
    run_id: str | None
    candidate_id: str
    status: str
    summary: str

    @property
    def business_key(self) -> str | None:
        """The outcome of one run ("evaluation:ev-1:completed"), the same whichever event carries
        it: a service that crashed after publishing, or got its command twice, answers again with
        a NEW event id. None for results that are not runs (a deployment change, a canary step).
        Migration 0009 builds the same key in SQL from result_record rows."""
        return None if self.run_id is None else f"{self.kind}:{self.run_id}:{self.status}"


@dataclass(frozen=True)
class Projection:
    kind: str
    run_field: str | None
    status: Callable[[Any], str]
    summary: Callable[[Any], str]

    def row(self, data: EventData) -> ResultRow:
        run_id = getattr(data, self.run_field) if self.run_field else None
        return ResultRow(self.kind, run_id, data.candidate_id, self.status(data), self.summary(data))  # type: ignore[attr-defined]


def result_key(event_type: str, data: EventData) -> str | None:
    """The business key of a result event (ResultRow.business_key), or None."""
    projection = PROJECTIONS.get(event_type)
    return None if projection is None else projection.row(data).business_key


def _fixed(value: str) -> Callable[[Any], str]:
    return lambda _d: value


def _evaluation_summary(d: ev.EvaluationCompleted) -> str:
    """The verdict, then the red team's figures: the built-in suite, and garak per probe family."""
    parts = [d.stage + (f": {d.verdict}" if d.verdict else "")]
    if d.security is not None:
        parts.append(f"red team {d.security.attack_success_rate:.2f} of {d.security.attacks}")
    if d.garak is not None:
        rates = sorted(d.garak.families.items())
        parts.append("garak " + ", ".join(f"{f} {r.attack_success_rate:.2f}" for f, r in rates))
    return "; ".join(parts)


def _reason(d: Any) -> str:
    return str(d.reason)


PROJECTIONS: dict[str, Projection] = {
    ev.EvaluationCompleted.event_type: Projection("evaluation", "evaluation_id", _fixed("completed"),
                                                  lambda d: _evaluation_summary(d)),
    ev.EvaluationFailed.event_type: Projection("evaluation", "evaluation_id", _fixed("failed"), _reason),
    lt.LoadtestCompleted.event_type: Projection("loadtest", "loadtest_id", _fixed("completed"),
                                                lambda d: f"saturated at {d.saturated_at}" if d.saturated_at else ""),
    lt.LoadtestFailed.event_type: Projection("loadtest", "loadtest_id", _fixed("failed"), _reason),
    pr.PromptOptimized.event_type: Projection("prompt_optimization", "run_id",
                                              lambda d: "accepted" if d.accepted else "rejected", _reason),
    pr.PromptOptimizationFailed.event_type: Projection("prompt_optimization", "run_id", _fixed("failed"), _reason),
    dp.DeploymentChanged.event_type: Projection("deployment", None, lambda d: d.status,
                                                lambda d: f"{d.environment} {d.route}: {d.detail}".strip()),
    dp.CanaryStepChanged.event_type: Projection("canary_step", None, lambda d: d.decision,
                                                lambda d: f"{d.weight_pct:g}% on {d.route}: {d.reason}"),
    dp.FallbackActivated.event_type: Projection("fallback", "degradation_id", _fixed("activated"),
                                                lambda d: f"{d.route} -> {d.fallback_candidate_id}: {d.reason}"),
    dg.DegradationDetected.event_type: Projection("degradation", "degradation_id", _fixed("detected"),
                                                  lambda d: ", ".join(d.rules)),
}
