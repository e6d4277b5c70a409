"""Canary analysis on live traffic: per-target metrics from logged inferences, compared
champion vs candidate with always-valid statistics (shared.stats.sequential) at every
check, and the step decision that follows with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas.events.inference import InferenceLogged
from services.deployer.domain.policy import CanaryRule
from shared.stats.sequential import Moments, SequentialResult, compare

# Every metric is "higher is worse"; rates are means of 0/1 outcomes.
REQUIRED = ("error_rate", "slo_breach_rate", "latency_ms", "refusal_rate", "guardrail_rate", "json_invalid_rate")
OPTIONAL = ("negative_feedback_rate",)
CONTINUOUS = frozenset({"latency_ms"})
# Mixture scales, as multiples of each metric's margin: the margin resolves non-inferiority,
# the larger ones catch gross regressions within the first few ticks.
TAU_MULTIPLES = (1.0, 4.0, 16.0)

Arm = dict[str, Moments]
StepDecision = Literal["advance", "hold", "promote", "rollback", "inconclusive"]
Verdict = Literal["harm", "non_inferior", "undecided", "insufficient"]


def request_signals(ev: InferenceLogged, slo_ms: float) -> dict[str, float]:
    """The per-request observations one logged inference contributes to its target's arm."""
    hits = [h.lower() for h in ev.guardrail_hits]
    signals = {
        "error_rate": float(ev.status == "error"),
        "refusal_rate": float(any("refusal" in h for h in hits)),
        "guardrail_rate": float(ev.status == "blocked" or bool(hits)),
        "json_invalid_rate": float(any("json" in h for h in hits)),
    }
    if ev.status != "error":
        signals["latency_ms"] = ev.latency_ms
        signals["slo_breach_rate"] = float(ev.latency_ms > slo_ms)
    else:
        signals["slo_breach_rate"] = 1.0
    return signals


def feedback_signal(score: float) -> dict[str, float]:
    return {"negative_feedback_rate": float(score < 0)}


def observe(arm: Arm, signals: dict[str, float]) -> Arm:
    out = dict(arm)
    for name, value in signals.items():
        out[name] = out.get(name, Moments()).add(value)
    return out


def requests_seen(arm: Arm) -> int:
    return arm.get("error_rate", Moments()).n


@dataclass(frozen=True)
class MetricAnalysis:
    metric: str
    result: SequentialResult
    margin: float
    verdict: Verdict

    def describe(self) -> str:
        r = self.result
        return (f"{self.metric} {r.effect:+.4g} [{r.low:+.4g}, {r.high:+.4g}] "
                f"p={r.p_value:.3g} (n {r.n_a}/{r.n_b}, margin {self.margin:g})")


@dataclass(frozen=True)
class StepAnalysis:
    decision: StepDecision
    reason: str
    weight_pct: float
    metrics: list[MetricAnalysis] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """Flat figures for canary.step_changed: effect, interval and p-value per metric."""
        out: dict[str, float] = {"weight_pct": self.weight_pct}
        for m in self.metrics:
            r = m.result
            out |= {f"{m.metric}.effect": r.effect, f"{m.metric}.low": r.low, f"{m.metric}.high": r.high,
                    f"{m.metric}.p": r.p_value, f"{m.metric}.n_champion": float(r.n_a),
                    f"{m.metric}.n_candidate": float(r.n_b)}
        return {k: v for k, v in out.items() if v == v and abs(v) != float("inf")}


def analyse_metric(name: str, champion: Arm, candidate: Arm, rule: CanaryRule, alpha: float) -> MetricAnalysis:
    a, b = champion.get(name, Moments()), candidate.get(name, Moments())
    margin = rule.margins.get(name, 0.0)
    base = margin if margin > 0 else (1.0 if name in CONTINUOUS else 0.01)
    result = compare(a, b, alpha=alpha, tau=[base * k for k in TAU_MULTIPLES], rate=name not in CONTINUOUS)
    if min(a.n, b.n) < rule.min_samples:
        verdict: Verdict = "insufficient"
    elif result.low > margin:  # worse by more than the policy tolerates, with confidence
        verdict = "harm"
    elif result.high < margin:
        verdict = "non_inferior"
    else:
        verdict = "undecided"
    return MetricAnalysis(name, result, margin, verdict)


def analyse_step(champion: Arm, candidate: Arm, *, rule: CanaryRule, step: int, step_start_n: int) -> StepAnalysis:
    """Decide one canary step. Rollback when a metric is shown worse than its margin allows
    (the margin is the degradation the policy accepts; unnamed metrics have none); advance only when every
    required metric is shown non-inferior AND the step has seen its own traffic; a step
    with too little traffic is 'inconclusive' and never promotes."""
    weight = rule.steps[step]
    names = [*REQUIRED, *(n for n in OPTIONAL if min(champion.get(n, Moments()).n,
                                                       candidate.get(n, Moments()).n) >= rule.min_samples)]
    alpha = rule.alpha / len(names)  # Bonferroni across metrics: total false-rollback rate <= alpha
    metrics = [analyse_metric(n, champion, candidate, rule, alpha) for n in names]
    harmed = [m for m in metrics if m.verdict == "harm"]
    if harmed:
        return StepAnalysis("rollback", "significantly worse: " + "; ".join(m.describe() for m in harmed),
                            weight, metrics)
    at_step = requests_seen(candidate) - step_start_n
    short = [m for m in metrics if m.verdict == "insufficient"]
    if short or at_step < rule.min_samples_per_step:
        return StepAnalysis("inconclusive", _too_little(champion, candidate, at_step, rule, weight), weight, metrics)
    waiting = [m for m in metrics if m.verdict != "non_inferior"]
    if waiting:
        return StepAnalysis("hold", "not yet shown non-inferior: " + "; ".join(m.describe() for m in waiting),
                            weight, metrics)
    final = step + 1 >= len(rule.steps) or rule.steps[step + 1] >= 100
    decision: StepDecision = "promote" if final else "advance"
    return StepAnalysis(decision, "every metric non-inferior: " + "; ".join(m.describe() for m in metrics),
                        weight, metrics)


def _too_little(champion: Arm, candidate: Arm, at_step: int, rule: CanaryRule, weight: float) -> str:
    return (f"too little traffic: {at_step}/{rule.min_samples_per_step} candidate requests at {weight:g}%, "
            f"{requests_seen(champion)} champion / {requests_seen(candidate)} candidate in total "
            f"(min {rule.min_samples} per arm); waiting")


def next_weight(rule: CanaryRule, step: int) -> float:
    return rule.steps[step + 1] if step + 1 < len(rule.steps) else 100.0


def rollback_weights(rule: CanaryRule, step: int) -> list[float]:
    """Weights to step down through on a gradual rollback, ending at 0."""
    if not rule.gradual_rollback:
        return [0.0]
    return [w for w in reversed(rule.steps[:step]) if w < rule.steps[step]] + [0.0]


def merge(a: Arm, b: Arm) -> Arm:
    return {name: a.get(name, Moments()).merge(b.get(name, Moments())) for name in set(a) | set(b)}


def load_arm(raw: dict[str, list[float]]) -> Arm:
    """An arm from its stored (JSON) form."""
    return {name: Moments.from_list(values) for name, values in raw.items()}


def dump_arm(arm: Arm) -> dict[str, list[float]]:
    return {name: m.as_list() for name, m in arm.items()}
