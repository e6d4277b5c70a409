"""Candidate vs champion accuracy per dataset, Holm-corrected across datasets. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events.evaluations import MetricComparison, Verdict
from services.evaluator.domain.results import ItemResult
from shared.stats.paired import compare, holm, mde, verdict_for


def _paired_scores(cand: Sequence[ItemResult], champ: Sequence[ItemResult]) -> tuple[list[float], list[float]]:
    """Scores of items both sides could be scored on (judge verdicts can be unparseable)."""
    theirs = {r.item_id: r.score for r in champ}
    pairs = [(r.score, theirs.get(r.item_id)) for r in cand]
    kept = [(a, b) for a, b in pairs if a is not None and b is not None]
    return [a for a, _ in kept], [b for _, b in kept]


def _judge_counts(results: Sequence[ItemResult]) -> tuple[int | None, int | None]:
    if not any(r.judge for r in results):
        return None, None
    return sum(r.judge == "unparseable" for r in results), sum(r.judge == "error" for r in results)


def _solo(dataset: str, metric: str, cand: Sequence[ItemResult], champ: Sequence[ItemResult],
          binary: bool) -> MetricComparison:
    """Candidate figures only: no champion, or no item both sides could be scored on."""
    scores = [r.score for r in cand if r.score is not None]
    mean = sum(scores) / len(scores) if scores else 0.0
    unparseable, errors = _judge_counts([*cand, *champ])
    return MetricComparison(dataset=dataset, metric=metric, n=len(scores), candidate_score=mean,
                            mde=mde(len(scores), binary=binary, baseline=mean) if binary and scores else None,
                            judge_unparseable=unparseable, judge_errors=errors,
                            items_failed=sum(r.error is not None for r in cand))


def compare_dataset(dataset: str, metric: str, cand: Sequence[ItemResult], champ: Sequence[ItemResult] | None,
                    *, binary: bool, seed: int = 0, n_boot: int = 10_000) -> MetricComparison:
    if not champ:
        return _solo(dataset, metric, cand, [], binary)
    a, b = _paired_scores(cand, champ)
    if not a:
        return _solo(dataset, metric, cand, champ, binary)
    c = compare(a, b, binary=binary, seed=seed, n_boot=n_boot)
    unparseable, errors = _judge_counts([*cand, *champ])
    return MetricComparison(
        dataset=dataset, metric=metric, n=c.n, candidate_score=c.candidate_mean, champion_score=c.champion_mean,
        difference=c.difference, ci_low=c.ci_low, ci_high=c.ci_high, test=c.test, p_value=c.p_value,
        p_adjusted=c.p_value, mde=c.mde, verdict=c.verdict, judge_unparseable=unparseable, judge_errors=errors,
        items_failed=sum(r.error is not None for r in cand))


def holm_adjust(comparisons: Sequence[MetricComparison]) -> list[MetricComparison]:
    """Holm-adjust the p-values across datasets and re-derive each verdict from the adjusted p."""
    tested = [i for i, c in enumerate(comparisons) if c.p_value is not None]
    adjusted = holm([comparisons[i].p_value for i in tested])  # type: ignore[misc]
    out = list(comparisons)
    for i, p in zip(tested, adjusted, strict=True):
        c = out[i]
        out[i] = c.model_copy(update={"p_adjusted": p, "verdict": verdict_for(c.difference or 0.0, p)})
    return out


def overall_verdict(comparisons: Sequence[MetricComparison]) -> Verdict | None:
    """Worse on any dataset loses; otherwise better on any wins; else no significant difference."""
    verdicts = [c.verdict for c in comparisons if c.verdict is not None]
    if not verdicts:
        return None
    if "worse" in verdicts:
        return "worse"
    return "better" if "better" in verdicts else "no_significant_difference"
