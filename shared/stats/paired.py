"""Paired comparison of two systems scored on the SAME items.

Binary scores (correct / wrong) use McNemar's exact test; graded scores use a paired
sign-flip permutation test. The difference always gets a percentile paired-bootstrap CI.
Pure numpy/scipy: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Verdict = Literal["better", "worse", "no_significant_difference"]
_EXACT_PERMUTATION_MAX_N = 16  # 2**16 sign patterns: enumerate instead of sampling


@dataclass(frozen=True)
class Comparison:
    n: int
    candidate_mean: float
    champion_mean: float
    difference: float
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    mde: float
    verdict: Verdict


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples need equal 1-D lengths, got {x.shape} and {y.shape}")
    return x, y


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000,
                        alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(mean of a-b, low, high): percentile bootstrap over items, resampling pairs together."""
    x, y = _paired(a, b)
    d = x - y
    if d.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // d.size)  # bound memory of the index matrix
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(d.mean()), float(low), float(high)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the discordant pairs."""
    x, y = _paired([bool(v) for v in a], [bool(v) for v in b])
    only_a = int(np.sum((x == 1) & (y == 0)))
    only_b = int(np.sum((x == 0) & (y == 1)))
    return mcnemar_from_counts(only_a, only_b)


def mcnemar_from_counts(only_a: int, only_b: int) -> float:
    n = only_a + only_b
    if n == 0:
        return 1.0
    p = 2.0 * stats.binom.cdf(min(only_a, only_b), n, 0.5)
    return float(min(1.0, p))


def paired_permutation_test(a: Sequence[float], b: Sequence[float], *, n_perm: int = 10_000,
                            seed: int = 0) -> float:
    """Two-sided sign-flip permutation test of mean(a-b) == 0 (exact for small n)."""
    x, y = _paired(a, b)
    d = x - y
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    observed = abs(d.mean())
    if d.size <= _EXACT_PERMUTATION_MAX_N:
        signs = 1 - 2 * ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1)
        null = np.abs((signs * d).mean(axis=1))
        return float(np.mean(null >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, d.size))
    null = np.abs((signs * d).mean(axis=1))
    return float((np.sum(null >= observed - 1e-12) + 1) / (n_perm + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [float(v) for v in adjusted]


def mde(n: int, *, binary: bool, baseline: float = 0.5, sd: float = 1.0, alpha: float = 0.05,
        power: float = 0.8) -> float:
    """Minimum detectable effect of a two-sided paired test at n items.

    Binary: the sd of a paired difference of accuracies is bounded by sqrt(2 p (1-p)) when the
    two systems' errors are independent. Graded: `sd` is the sd of the paired differences.
    """
    if n <= 0:
        return math.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    p = min(max(baseline, 0.01), 0.99)  # a perfect or null baseline still leaves sampling noise
    spread = math.sqrt(2 * p * (1 - p)) if binary else sd
    return float(z * spread / math.sqrt(n))


def items_for_effect(effect: float, *, n: int, mde_at_n: float) -> int:
    """About how many items bring the MDE measured at n items (see `mde`, which shrinks as
    1/sqrt(n)) down to `effect` (> 0)."""
    if effect <= 0 or n <= 0 or not math.isfinite(mde_at_n):
        raise ValueError("items_for_effect needs effect > 0, n > 0 and a finite MDE")
    return max(n, math.ceil(n * (mde_at_n / effect) ** 2))


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def compare(candidate: Sequence[float], champion: Sequence[float], *, binary: bool, alpha: float = 0.05,
            seed: int = 0, n_boot: int = 10_000) -> Comparison:
    """Candidate vs champion on the same items: difference, CI, test, MDE and a verdict."""
    x, y = _paired(candidate, champion)
    if binary and not (_is_binary(x) and _is_binary(y)):
        raise ValueError("binary=True needs scores in {0, 1}")
    diff, low, high = paired_bootstrap_ci(x, y, n_boot=n_boot, alpha=alpha, seed=seed)
    if binary:
        test, p = "mcnemar_exact", mcnemar_exact(x.astype(bool), y.astype(bool))
        effect = mde(x.size, binary=True, baseline=float(y.mean()) if y.size else 0.5, alpha=alpha)
    else:
        test, p = "paired_permutation", paired_permutation_test(x, y, seed=seed)
        sd = float(np.std(x - y, ddof=1)) if x.size > 1 else 0.0
        effect = mde(x.size, binary=False, sd=sd, alpha=alpha)
    return Comparison(n=int(x.size), candidate_mean=float(x.mean()) if x.size else 0.0,
                      champion_mean=float(y.mean()) if y.size else 0.0, difference=diff, ci_low=low,
                      ci_high=high, test=test, p_value=p, mde=effect, verdict=verdict_for(diff, p, alpha))


def verdict_for(difference: float, p_value: float, alpha: float = 0.05) -> Verdict:
    if p_value >= alpha or difference == 0:
        return "no_significant_difference"
    return "better" if difference > 0 else "worse"
