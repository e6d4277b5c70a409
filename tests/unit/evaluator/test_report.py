from schemas.events.evaluations import MetricComparison
from services.evaluator.adapters.report import chart, chart_png


def _solo(name: str) -> MetricComparison:
    return MetricComparison(dataset=name, metric="contains", n=100, candidate_score=0.9)


def _paired(name: str) -> MetricComparison:
    return MetricComparison(dataset=name, metric="contains", n=100, candidate_score=0.9, champion_score=0.8,
                            difference=0.1, ci_low=0.02, ci_high=0.18)


def test_without_a_champion_the_chart_has_only_the_score_panel():
    assert len(chart([_solo("a"), _solo("b")]).axes) == 1


def test_with_a_champion_the_chart_also_shows_the_difference_with_its_ci():
    fig = chart([_paired("a"), _solo("b")])
    assert len(fig.axes) == 2
    assert "candidate - champion" in fig.axes[1].get_xlabel()


def test_chart_png_is_a_png():
    assert chart_png([_solo("a")]).startswith(b"\x89PNG")
