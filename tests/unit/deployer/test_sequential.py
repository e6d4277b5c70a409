"""The always-valid test: A/A false-positive rate under continuous peeking, coverage, and
time to detect a known effect. Vectorized simulations with fixed seeds (fast)."""

from __future__ import annotations

import numpy as np

from shared.stats.sequential import Moments, always_valid_p, compare, cs_radius

ALPHA = 0.05


def _peeking_rates(p_a: float, p_b: float, sims: int, looks: int, batch: int, seed: int, tau):
    """Fraction of simulated experiments whose CS ever excludes 0 (checked after every batch),
    and the looks at which it first did."""
    rng = np.random.default_rng(seed)
    a = rng.binomial(batch, p_a, size=(sims, looks)).cumsum(axis=1)
    b = rng.binomial(batch, p_b, size=(sims, looks)).cumsum(axis=1)
    n = batch * np.arange(1, looks + 1)
    pa, pb = (a + 0.5) / (n + 1), (b + 0.5) / (n + 1)
    var = (pa * (1 - pa) + pb * (1 - pb)) / n
    effect = b / n - a / n
    tau2 = [t * t for t in tau] if isinstance(tau, list) else tau * tau
    crossed = np.abs(effect) > cs_radius(var, tau2, ALPHA)
    crossed[:, : 100 // batch] = False  # the canary's minimum sample before any verdict
    ever = crossed.any(axis=1)
    first = np.where(ever, crossed.argmax(axis=1), -1)
    return ever.mean(), first


def test_aa_false_positive_rate_under_continuous_peeking_is_at_most_alpha():
    rate, _ = _peeking_rates(0.05, 0.05, sims=1000, looks=100, batch=20, seed=1, tau=0.01)
    assert rate <= ALPHA


def test_naive_fixed_n_test_peeked_every_batch_is_not_valid():
    """The reason for the mixture: a z-test at 1.96 peeked 100 times rejects far above 5%."""
    rng = np.random.default_rng(2)
    a = rng.binomial(20, 0.05, size=(1000, 100)).cumsum(axis=1)
    b = rng.binomial(20, 0.05, size=(1000, 100)).cumsum(axis=1)
    n = 20 * np.arange(1, 101)
    pooled = (a + b) / (2 * n)
    z = np.abs(b - a) / n / np.sqrt(np.maximum(2 * pooled * (1 - pooled) / n, 1e-12))
    assert (z[:, 5:] > 1.96).any(axis=1).mean() > 2 * ALPHA


def test_detects_a_known_error_rate_increase_quickly():
    power, first = _peeking_rates(0.01, 0.05, sims=300, looks=100, batch=20, seed=3, tau=0.01)
    assert power >= 0.95
    median_per_arm = 20 * (np.median(first[first >= 0]) + 1)
    assert median_per_arm <= 600


def test_confidence_sequence_covers_the_true_difference_at_every_look():
    rng = np.random.default_rng(4)
    a = rng.normal(300.0, 40.0, size=(500, 2000))
    b = rng.normal(310.0, 40.0, size=(500, 2000))
    n = np.arange(1, 2001)
    ca, cb = a.cumsum(axis=1), b.cumsum(axis=1)
    var = 2 * 40.0**2 / n
    effect = cb / n - ca / n
    missed = (np.abs(effect - 10.0) > cs_radius(var, 100.0**2, ALPHA))[:, 50:].any(axis=1)
    assert missed.mean() <= ALPHA


def test_compare_on_moments_reports_effect_interval_and_p():
    a = b = Moments()
    for i in range(400):
        a = a.add(float(i % 50 == 0))  # 2 % errors
        b = b.add(float(i % 10 == 0))  # 10 % errors
    r = compare(a, b, alpha=ALPHA, tau=0.02, rate=True)
    assert r.effect == b.mean - a.mean
    assert 0 < r.low < r.effect < r.high
    assert r.p_value < ALPHA
    same = compare(a, a, alpha=ALPHA, tau=0.02, rate=True)
    assert same.low < 0 < same.high and same.p_value == 1.0


def test_empty_arm_is_unbounded_and_p_is_one():
    r = compare(Moments(), Moments().add(1.0), alpha=ALPHA, tau=0.1)
    assert r.low == -np.inf and r.high == np.inf and r.p_value == 1.0


def test_always_valid_p_falls_as_evidence_grows():
    ps = always_valid_p(effect=[0.01, 0.01, 0.01], var=[3e-5, 1e-5, 1e-6], tau2=1e-4)
    assert ps[0] > ps[1] > ps[2]


SCALES = [0.01, 0.04, 0.16]  # the canary's mixture: the margin and 4x, 16x it


def test_multi_scale_mixture_stays_valid_under_aa_peeking():
    rate, _ = _peeking_rates(0.05, 0.05, sims=1000, looks=100, batch=20, seed=5, tau=SCALES)
    assert rate <= ALPHA


def test_multi_scale_mixture_catches_a_gross_regression_sooner_than_the_margin_alone():
    _, single = _peeking_rates(0.01, 0.30, sims=300, looks=40, batch=10, seed=6, tau=0.01)
    _, multi = _peeking_rates(0.01, 0.30, sims=300, looks=40, batch=10, seed=6, tau=SCALES)
    assert (multi >= 0).all()
    assert np.median(multi) < np.median(np.where(single < 0, 40, single))


def test_scalar_and_vectorized_multi_scale_radius_agree():
    var = np.array([1e-3, 1e-4, 1e-5, 3e-7])
    tau2s = [t * t for t in SCALES]
    vector = cs_radius(var, tau2s, ALPHA)
    scalar = [float(cs_radius(float(v), tau2s, ALPHA)) for v in var]
    assert np.allclose(vector, scalar, rtol=1e-9)
    assert (vector <= np.min([cs_radius(var, t2, ALPHA / 3) for t2 in tau2s], axis=0)).all()
