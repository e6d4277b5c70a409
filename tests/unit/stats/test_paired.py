import numpy as np
import pytest
from scipy import stats

from shared.stats.paired import (
    compare,
    holm,
    mcnemar_exact,
    mcnemar_from_counts,
    mde,
    paired_bootstrap_ci,
    paired_permutation_test,
)


def _table(a: int, b: int, c: int, d: int) -> tuple[list[bool], list[bool]]:
    """Rows: system A right/wrong; columns: system B right/wrong."""
    x = [True] * a + [True] * b + [False] * c + [False] * d
    y = [True] * a + [False] * b + [True] * c + [False] * d
    return x, y


def test_mcnemar_textbook_wikipedia_table():
    # Wikipedia "McNemar's test" example: discordant 6 vs 16, exact p = 0.0525
    x, y = _table(59, 6, 16, 80)
    assert mcnemar_exact(x, y) == pytest.approx(0.052478, abs=1e-5)


def test_mcnemar_small_table_by_hand():
    # b=10, c=2: p = 2 * (C(12,0)+C(12,1)+C(12,2)) / 2**12 = 158/4096
    assert mcnemar_from_counts(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_from_counts(2, 10) == pytest.approx(158 / 4096)


def test_mcnemar_no_discordant_pairs_is_one():
    assert mcnemar_exact([True, False], [True, False]) == 1.0
    assert mcnemar_from_counts(5, 5) == 1.0


def test_permutation_matches_scipy_exact():
    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 1, 12)
    b = rng.normal(0.0, 1, 12)
    ref = stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                 alternative="two-sided", n_resamples=np.inf)
    assert paired_permutation_test(a, b) == pytest.approx(ref.pvalue, abs=1e-9)


def test_permutation_sampled_close_to_scipy():
    rng = np.random.default_rng(2)
    a = rng.normal(0.3, 1, 40)
    b = rng.normal(0.0, 1, 40)
    ref = stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                 alternative="two-sided", n_resamples=20_000, random_state=0)
    # both are Monte Carlo estimates (scipy doubles the smaller tail; the sign-flip null is
    # symmetric, so the targets agree): ~4 standard errors of slack
    assert paired_permutation_test(a, b, n_perm=20_000) == pytest.approx(ref.pvalue, abs=0.02)


def test_bootstrap_matches_scipy_percentile():
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 1, 60)
    b = a - rng.normal(0.2, 0.5, 60)
    mean, low, high = paired_bootstrap_ci(a, b, n_boot=20_000)
    ref = stats.bootstrap((a - b,), np.mean, method="percentile", n_resamples=20_000, random_state=0)
    assert mean == pytest.approx(np.mean(a - b))
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_bootstrap_ci_covers_known_difference_near_nominal():
    rng = np.random.default_rng(4)
    true_diff, covered, sims = 0.3, 0, 200
    for s in range(sims):
        champion = rng.normal(0, 1, 60)
        candidate = champion + rng.normal(true_diff, 1, 60)
        _, low, high = paired_bootstrap_ci(candidate, champion, n_boot=400, seed=s)
        covered += low <= true_diff <= high
    assert 0.89 <= covered / sims <= 0.99


def test_holm_matches_hand_computation():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.04, 0.2, 0.01, 0.03]) == pytest.approx([0.09, 0.2, 0.04, 0.09])
    assert holm([]) == []


def test_mde_shrinks_with_n_and_matches_formula():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert mde(100, binary=False, sd=1.0) == pytest.approx(z / 10)
    assert mde(400, binary=True, baseline=0.5) < mde(100, binary=True, baseline=0.5)


def test_compare_binary_detects_better_candidate():
    x, y = _table(40, 30, 2, 28)
    result = compare([float(v) for v in x], [float(v) for v in y], binary=True, n_boot=2000)
    assert result.test == "mcnemar_exact"
    assert result.verdict == "better"
    assert result.difference == pytest.approx(0.28)
    assert result.ci_low > 0


def test_compare_graded_no_difference_and_worse():
    rng = np.random.default_rng(5)
    base = rng.uniform(0, 1, 50)
    same = compare(base + rng.normal(0, 0.01, 50), base, binary=False, n_boot=2000)
    assert same.test == "paired_permutation"
    worse = compare(base - 0.2, base, binary=False, n_boot=2000)
    assert worse.verdict == "worse"
    assert same.p_value > worse.p_value


def test_compare_rejects_unpaired_and_nonbinary():
    with pytest.raises(ValueError):
        compare([1.0, 0.0], [1.0], binary=True)
    with pytest.raises(ValueError):
        compare([0.5, 1.0], [1.0, 0.0], binary=True)


def test_items_for_an_effect_bring_the_mde_down_to_it():
    from shared.stats.paired import items_for_effect, mde

    at_40 = mde(40, binary=True, baseline=0.8)
    need = items_for_effect(0.05, n=40, mde_at_n=at_40)
    assert mde(need, binary=True, baseline=0.8) <= 0.05 < mde(need - 2, binary=True, baseline=0.8)
    assert items_for_effect(0.5, n=40, mde_at_n=at_40) == 40  # already enough
