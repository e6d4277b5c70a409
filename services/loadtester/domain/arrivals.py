"""Arrival schedules as ABSOLUTE offsets from the start, so lateness never accumulates."""

from __future__ import annotations

import numpy as np


def poisson(rate: float, n: int, seed: int = 0) -> list[float]:
    return gamma(rate, n, burstiness=1.0, seed=seed)


def gamma(rate: float, n: int, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """Gamma inter-arrival gaps with mean 1/rate; burstiness < 1 is burstier (shape = burstiness),
    1 is Poisson. The first request goes at 0."""
    if rate <= 0 or n <= 0:
        raise ValueError("rate and n must be positive")
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=max(0, n - 1))
    return [0.0, *np.cumsum(gaps).tolist()][:n]


def constant(rate: float, n: int) -> list[float]:
    if rate <= 0 or n <= 0:
        raise ValueError("rate and n must be positive")
    return [i / rate for i in range(n)]


def schedule(mode: str, rate: float, n: int, seed: int = 0, burstiness: float = 1.0) -> list[float]:
    if mode == "poisson":
        return poisson(rate, n, seed)
    if mode == "gamma":
        return gamma(rate, n, burstiness, seed)
    if mode == "constant":
        return constant(rate, n)
    raise ValueError(f"no open-loop schedule for mode {mode!r}")


def count_for(rate: float, requests: int, duration_s: float | None) -> int:
    """Requests in a level: the count, or as many as fit in the duration at the rate."""
    return max(1, int(rate * duration_s)) if duration_s else requests
