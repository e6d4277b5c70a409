"""The acceptance gate: the best prompt (chosen on validation) is promoted only when it beats
the current prompt on the held-out test split with a significant paired test. The test
itself is the evaluator's (shared.stats.paired), not a copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.stats.paired import Comparison, compare

ALPHA = 0.05


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str
    comparison: Comparison | None


def _binary(*scores: Sequence[float]) -> bool:
    return all(s in (0.0, 1.0) for seq in scores for s in seq)


def decide(best: Sequence[float], current: Sequence[float], *, alpha: float = ALPHA, seed: int = 0) -> Decision:
    result = compare(best, current, binary=_binary(best, current), alpha=alpha, seed=seed)
    summary = (f"held-out {result.champion_mean:.3f} -> {result.candidate_mean:.3f} "
               f"({result.difference:+.3f}, 95% CI [{result.ci_low:+.3f}, {result.ci_high:+.3f}]), "
               f"{result.test} p={result.p_value:.4g} on n={result.n}")
    if result.verdict == "better":
        return Decision(True, f"significant gain: {summary} < alpha {alpha}", result)
    return Decision(False, f"no significant gain: {summary} (alpha {alpha}, MDE {result.mde:.3f})", result)


def not_tested(reason: str) -> Decision:
    return Decision(False, reason, None)
