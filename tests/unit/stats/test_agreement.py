import numpy as np
import pytest

from shared.stats.agreement import (
    accuracy_spread,
    exact_match_consistency,
    fleiss_kappa,
    fleiss_kappa_table,
    flipping_items,
    item_agreement,
    mean_agreement,
)


def test_fleiss_kappa_wikipedia_example():
    # Wikipedia "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories -> 0.210
    table = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ], dtype=float)
    assert fleiss_kappa_table(table) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_from_labels_perfect_and_undefined():
    assert fleiss_kappa([["a", "a"], ["b", "b"], ["a", "a"]]) == pytest.approx(1.0)
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None
    assert fleiss_kappa([["a", "a"], ["a"]]) is None


def test_item_agreement_and_consistency():
    assert item_agreement(["x", "x", "x"]) == 1.0
    assert item_agreement(["x", "x", "y"]) == pytest.approx(2 / 6)
    assert item_agreement(["x", "y", "z"]) == 0.0
    per_item = [["x", "x", "x"], ["x", "y", "x"]]
    assert mean_agreement(per_item) == pytest.approx((1 + 1 / 3) / 2)
    assert exact_match_consistency(per_item) == 0.5
    assert flipping_items(["i1", "i2"], per_item) == ["i2"]


def test_accuracy_spread():
    assert accuracy_spread([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]]) == pytest.approx(0.5)
    assert accuracy_spread([]) == 0.0
