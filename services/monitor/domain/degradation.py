"""What a fired alarm says: the degradation event, its alert and its webhook lines. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from schemas.events.alerts import AlertRaised
from schemas.events.degradations import CapturedSample, DegradationDetected
from services.monitor.domain.capture import Failing
from services.monitor.domain.rules import Breach
from services.monitor.domain.stats import WindowStats
from services.monitor.domain.windows import Window


def degradation_id(window: Window) -> str:
    """Deterministic, so a replayed window publishes the same id (consumers dedupe on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"challenger-monitor/{window.key.slug()}/{window.window_id}"))


def captured(f: Failing) -> CapturedSample:
    r = f.record
    return CapturedSample(request_id=r.request_id, prompt=r.prompt, response=r.response, reason=f.reason,
                          prompt_version=r.prompt_version, captured_at=datetime.fromtimestamp(r.at, UTC))


def evidence(breaches: Sequence[Breach], stats: WindowStats, drift_share: float | None,
             drift_scores: dict[str, float]) -> dict[str, float]:
    values = {b.rule: b.value for b in breaches}
    values |= {f"threshold:{b.rule}": b.threshold for b in breaches}
    values |= {"window_records": float(stats.n), "error_rate": stats.error_rate,
               "refusal_rate": stats.refusal_rate, "latency_p95_ms": stats.latency_p95_ms}
    values |= {"drift_share": drift_share} if drift_share is not None else {}
    values |= {f"drift_score:{col}": score for col, score in drift_scores.items()}
    return {k: v for k, v in values.items() if v == v}  # NaN is not valid JSON


def degradation_event(window: Window, breaches: Sequence[Breach], failing: Sequence[Failing],
                      ev: dict[str, float], report_path: str | None) -> DegradationDetected:
    return DegradationDetected(
        degradation_id=degradation_id(window), candidate_id=window.key.candidate_id, route=window.key.route,
        rules=[b.rule for b in breaches], evidence=ev, samples=[captured(f) for f in failing],
        report_path=report_path, window_id=window.window_id, window_start=datetime.fromtimestamp(window.opened_at, UTC),
        window_end=datetime.fromtimestamp(window.closed_at, UTC))


def alert_for(event: DegradationDetected, breaches: Sequence[Breach]) -> AlertRaised:
    return AlertRaised(
        alert_id=event.degradation_id, candidate_id=event.candidate_id, severity="critical", route=event.route,
        title=f"Degradation on route {event.route} (candidate {event.candidate_id})",
        detail="; ".join(b.describe() for b in breaches) + f"; {len(event.samples)} failing sample(s) captured")


def alert_lines(event: DegradationDetected, breaches: Sequence[Breach]) -> list[str]:
    lines = [b.describe() for b in breaches] + [f"{len(event.samples)} failing sample(s) captured"]
    return lines + ([f"report: {event.report_path}"] if event.report_path else [])
