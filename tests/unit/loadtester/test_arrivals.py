import numpy as np
import pytest
from scipy import stats

from services.loadtester.domain import arrivals


def test_poisson_gaps_are_exponential_ks():
    rate = 50.0
    offsets = arrivals.poisson(rate, 2000, seed=7)
    gaps = np.diff(offsets)
    result = stats.kstest(gaps, "expon", args=(0, 1 / rate))
    assert result.pvalue > 0.01
    # and a wrong rate is rejected, so the test can fail
    assert stats.kstest(gaps, "expon", args=(0, 1 / (rate * 1.3))).pvalue < 0.01


def test_schedule_is_absolute_and_starts_at_zero():
    offsets = arrivals.poisson(10, 100, seed=1)
    assert offsets[0] == 0.0
    assert all(b >= a for a, b in zip(offsets, offsets[1:], strict=False))
    assert len(offsets) == 100


def test_gamma_burstiness_keeps_the_mean_and_raises_the_spread():
    gaps = np.diff(arrivals.gamma(20, 5000, burstiness=0.25, seed=3))
    assert gaps.mean() == pytest.approx(1 / 20, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(2.0, rel=0.15)  # CV = 1/sqrt(shape)


def test_constant_rate():
    assert arrivals.constant(4, 3) == [0.0, 0.25, 0.5]


def test_duration_sets_the_count():
    assert arrivals.count_for(50, 20, 2.0) == 100
    assert arrivals.count_for(50, 20, None) == 20


def test_bad_rate_rejected():
    with pytest.raises(ValueError):
        arrivals.poisson(0, 10)
    with pytest.raises(ValueError):
        arrivals.schedule("concurrency", 1, 10)
