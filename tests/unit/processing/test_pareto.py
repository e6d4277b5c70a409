import pytest

from shared.pareto import Objective, dominates, pareto_front

POINTS = [  # (name, accuracy, cost)
    ("cheap-bad", 0.50, 1.0), ("mid", 0.70, 2.0), ("dominated", 0.65, 3.0), ("best", 0.90, 5.0),
    ("tie-mid", 0.70, 2.0), ("worse-best", 0.90, 6.0),
]
ACC = Objective[tuple[str, float, float]]("accuracy", lambda p: p[1], maximize=True)
COST = Objective[tuple[str, float, float]]("cost", lambda p: p[2])


def test_front_keeps_non_dominated_points_and_exact_ties_in_input_order() -> None:
    assert [p[0] for p in pareto_front(POINTS, [ACC, COST])] == ["cheap-bad", "mid", "best", "tie-mid"]


def test_single_objective_front_is_the_maxima() -> None:
    assert [p[0] for p in pareto_front(POINTS, [ACC])] == ["best", "worse-best"]


def test_dominance_is_strict_somewhere() -> None:
    assert dominates((1, 1), (1, 0)) and not dominates((1, 1), (1, 1)) and not dominates((2, 0), (1, 1))


def test_no_objectives_is_an_error_and_empty_input_is_empty() -> None:
    with pytest.raises(ValueError):
        pareto_front(POINTS, [])
    assert pareto_front([], [ACC]) == []
