"""Always-valid inference for online A/B tests: the normal-mixture SPRT (mSPRT) and its
confidence sequence on the difference of two means (a rate is the mean of 0/1 outcomes).

A fixed-n test checked after every batch inflates its false-positive rate far above alpha.
The mixture likelihood ratio Lambda_n is a nonnegative martingale under the null, so by
Ville's inequality P(sup_n Lambda_n >= 1/alpha) <= alpha: the p-value 1/Lambda_n and the
interval {theta : Lambda_n(theta) < 1/alpha} stay valid at every look, and a canary may stop
as soon as they exclude a value (Johari, Pekelis & Walsh 2017; Howard et al. 2021).

Variances are plug-in estimates (asymptotically valid), so callers need a minimum sample
size before trusting a result. Every function takes scalars or numpy arrays, so
simulations vectorize. Pure numpy; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

VAR_FLOOR = 1e-12
BISECTIONS = 40  # 2^-40 of the bound: far below any effect worth reporting


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one arm: count, sum and sum of squares."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, x: float) -> Moments:
        return Moments(self.n + 1, self.total + x, self.total_sq + x * x)

    def merge(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        return max((self.total_sq - self.total * self.total / self.n) / (self.n - 1), 0.0)

    def rate_variance(self) -> float:
        """Bernoulli variance with a half-count of smoothing, so 0 of n is not certainty."""
        p = (self.total + 0.5) / (self.n + 1.0)
        return p * (1.0 - p)

    def as_list(self) -> list[float]:
        return [self.n, self.total, self.total_sq]

    @classmethod
    def from_list(cls, values: list[float]) -> Moments:
        n, total, total_sq = values
        return cls(int(n), float(total), float(total_sq))


@dataclass(frozen=True)
class SequentialResult:
    """Effect (b - a), its always-valid (1 - alpha) interval, and the always-valid p-value
    for `effect == null`."""

    effect: float
    low: float
    high: float
    p_value: float
    n_a: int
    n_b: int


def log_mixture_lr(effect: ArrayLike, var: ArrayLike, tau2: float, null: float = 0.0) -> np.ndarray:
    """log Lambda for an estimate `effect` with sampling variance `var` and a N(null, tau2)
    mixture over the alternative."""
    v = np.maximum(np.asarray(var, dtype=float), VAR_FLOOR)
    d = np.asarray(effect, dtype=float) - null
    return 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2.0 * v * (v + tau2))


def log_multi_lr(effect: ArrayLike, var: ArrayLike, tau2s: Sequence[float], null: float = 0.0) -> np.ndarray:
    """log of the equal-weight average of normal mixtures over several scales. An average of
    martingales is a martingale, so validity holds, and no single tau has to guess the effect
    size: large regressions are caught early, small margins are resolved late."""
    logs = np.stack([log_mixture_lr(effect, var, t2, null) for t2 in tau2s])
    top = logs.max(axis=0)
    return top + np.log(np.exp(logs - top).mean(axis=0))


def always_valid_p(effect: ArrayLike, var: ArrayLike, tau2: float | Sequence[float], null: float = 0.0) -> np.ndarray:
    return np.minimum(1.0, np.exp(-log_multi_lr(effect, var, _scales(tau2), null)))


def cs_radius(var: ArrayLike, tau2: float | Sequence[float], alpha: float) -> np.ndarray:
    """Half-width of the confidence sequence {theta : Lambda(theta) < 1/alpha}. Closed form for
    one scale; for several, bisection (Lambda grows with |effect - theta|)."""
    tau2s = _scales(tau2)
    v = np.maximum(np.asarray(var, dtype=float), VAR_FLOOR)
    if len(tau2s) == 1:
        t2 = tau2s[0]
        return np.sqrt(2.0 * v * (v + t2) / t2 * (np.log(1.0 / alpha) + 0.5 * np.log((v + t2) / v)))
    if v.ndim == 0:
        return np.asarray(_multi_radius_scalar(float(v), tau2s, alpha))
    # Lambda_mix >= Lambda_k / K, so each single-scale radius at alpha / K bounds the answer.
    hi = np.min(np.stack([cs_radius(v, t2, alpha / len(tau2s)) for t2 in tau2s]), axis=0)
    lo = np.zeros_like(hi)
    target = np.log(1.0 / alpha)
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        inside = log_multi_lr(mid, v, tau2s) < target
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return hi


def _log_mean_lr_scalar(d: float, v: float, tau2s: list[float]) -> float:
    logs = [0.5 * math.log(v / (v + t2)) + t2 * d * d / (2.0 * v * (v + t2)) for t2 in tau2s]
    top = max(logs)
    return top + math.log(sum(math.exp(x - top) for x in logs) / len(logs))


def _multi_radius_scalar(v: float, tau2s: list[float], alpha: float) -> float:
    """The same bisection in plain floats: a canary check calls this per metric per tick."""
    target = math.log(1.0 / alpha)
    a_k = alpha / len(tau2s)  # Lambda_mix >= Lambda_k / K bounds the radius by each scale's at alpha / K
    hi = min(math.sqrt(2.0 * v * (v + t2) / t2 * (math.log(1.0 / a_k) + 0.5 * math.log((v + t2) / v)))
             for t2 in tau2s)
    lo = 0.0
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _log_mean_lr_scalar(mid, v, tau2s) < target else (lo, mid)
    return hi


def _scales(tau2: float | Sequence[float]) -> list[float]:
    return [float(tau2)] if np.isscalar(tau2) else [float(t) for t in tau2]  # type: ignore[union-attr]


def compare(a: Moments, b: Moments, *, alpha: float, tau: float | Sequence[float], rate: bool = False,
            null: float = 0.0) -> SequentialResult:
    """Always-valid comparison of arm b against arm a. `tau` is the scale (or scales) of effects
    worth detecting (the mixture's standard deviation); `rate` uses smoothed Bernoulli variances."""
    if a.n == 0 or b.n == 0:
        return SequentialResult(b.mean - a.mean, -np.inf, np.inf, 1.0, a.n, b.n)
    var_a = a.rate_variance() if rate else a.variance
    var_b = b.rate_variance() if rate else b.variance
    var = var_a / a.n + var_b / b.n
    effect = b.mean - a.mean
    tau2 = [t * t for t in _scales(tau)]
    v = max(var, VAR_FLOOR)
    radius = float(cs_radius(v, tau2, alpha))
    p = min(1.0, math.exp(-_log_mean_lr_scalar(effect - null, v, tau2)))
    return SequentialResult(effect, effect - radius, effect + radius, p, a.n, b.n)
