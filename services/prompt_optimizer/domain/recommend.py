"""The configuration search's verdict: per-variant summaries (accuracy with CI, stability, p95
latency, $/1M tokens), the Pareto frontier, and a recommendation under a stated policy with
the paired significance against the default config (the evaluator's statistics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.prompt_optimizer.domain.halving import Arm, HalvingResult, Obs
from shared.pareto import Objective, pareto_front
from shared.stats.paired import Comparison, compare, paired_bootstrap_ci

POLICY = ("the cheapest finalist within {tol:g} point(s) of the best finalist accuracy and no less stable than the "
          "default (within {tol:g} point(s)), ties by p95 latency; it replaces the default only with a significant "
          "gain in accuracy or in per-call cost on the same items")

# $ per 1M tokens of an arm, or None when the candidate declares no cost model.
CostOf = Callable[[Arm], float | None]


@dataclass(frozen=True)
class Summary:
    arm: Arm
    accuracy: float
    ci_low: float
    ci_high: float
    n: int
    stability: float | None
    p95_ms: float  # under load (the finalists' short load test) when measured, else single calls
    cost: float  # $/1M tokens, or tokens per item when there is no cost model
    finalist: bool


def summarize(arm: Arm, cost_of: CostOf, finalist: bool) -> Summary:
    mean, low, high = paired_bootstrap_ci(arm.scores, [0.0] * len(arm.scores), n_boot=2_000)
    calls = max(1, len(arm.latencies))
    price = cost_of(arm)
    cost = price if price is not None else (arm.input_tokens + arm.output_tokens) / calls
    p95 = arm.p95_load_ms if arm.p95_load_ms is not None else arm.p95_ms
    return Summary(arm, mean, low, high, len(arm.scores), arm.stability, p95, cost, finalist)


def frontier(summaries: list[Summary]) -> list[Summary]:
    objectives: list[Objective[Summary]] = [
        Objective("accuracy", lambda s: s.accuracy, maximize=True),
        Objective("stability", lambda s: s.stability if s.stability is not None else 0.0, maximize=True),
        Objective("p95 latency", lambda s: s.p95_ms),
        Objective("cost", lambda s: s.cost),
    ]
    return pareto_front([s for s in summaries if s.finalist], objectives)


@dataclass(frozen=True)
class Recommendation:
    chosen: Summary
    comparison: Comparison | None
    reason: str


def recommend(result: HalvingResult, summaries: list[Summary], call_cost: Callable[[Obs], float], *,
              tolerance: float = 0.01, alpha: float = 0.05) -> Recommendation:
    finalists = [s for s in summaries if s.finalist]
    best = max(s.accuracy for s in finalists)
    default = next(s for s in summaries if s.arm.variant.is_default)
    eligible = [s for s in finalists if s.accuracy >= best - tolerance - 1e-12 and _as_stable(s, default, tolerance)]
    chosen = min(eligible or [default], key=lambda s: (s.cost, s.p95_ms))
    policy = POLICY.format(tol=tolerance * 100)
    if chosen.arm is default.arm:
        return Recommendation(chosen, None, f"policy: {policy}. The default config is the recommendation: "
                                            f"no variant as stable is cheaper within tolerance or more accurate.")
    same = [i for i in chosen.arm.item_scores if i in default.arm.item_scores]  # paired: the same items
    mine, theirs = [chosen.arm.item_scores[i] for i in same], [default.arm.item_scores[i] for i in same]
    cmp = compare(mine, theirs, binary=all(v in (0.0, 1.0) for v in mine + theirs), alpha=alpha)
    costs = compare([call_cost(default.arm.item_calls[i]) for i in same],
                    [call_cost(chosen.arm.item_calls[i]) for i in same], binary=False, alpha=alpha)
    v = chosen.arm.variant
    verdict = {"better": "significantly MORE accurate than", "worse": "significantly LESS accurate than",
               "no_significant_difference": "not significantly different in accuracy from"}[cmp.verdict]
    accuracy = (f"accuracy {cmp.candidate_mean:.3f} vs default {cmp.champion_mean:.3f} on the same {cmp.n} items, "
                f"{cmp.test} p={cmp.p_value:.4g}: {verdict} the default")
    cheaper = "significantly" if costs.verdict == "better" else "NOT significantly"
    cost = (f"cost {chosen.cost:.4g} vs {default.cost:.4g} ({cheaper} lower per call, paired permutation "
            f"p={costs.p_value:.4g}), p95 {chosen.p95_ms:.0f} ms vs {default.p95_ms:.0f} ms")
    if cmp.verdict == "better" or (costs.verdict == "better" and cmp.verdict != "worse"):
        return Recommendation(chosen, cmp, f"policy: {policy}. Recommended {v.id} ({v.label()}): {accuracy}; {cost}.")
    return Recommendation(default, cmp, (
        f"policy: {policy}. The default config stays: the cheapest eligible finalist {v.id} ({v.label()}) gains "
        f"nothing significant: {accuracy}; {cost}."))


def _as_stable(s: Summary, default: Summary, tolerance: float) -> bool:
    """A cheaper config must not buy its price with less reproducible answers."""
    if s.stability is None or default.stability is None:
        return True
    return s.stability >= default.stability - tolerance - 1e-12
