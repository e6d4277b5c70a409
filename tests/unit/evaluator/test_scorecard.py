import pytest

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationRequested, MetricComparison
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.domain.accuracy import compare_dataset, holm_adjust, overall_verdict
from services.evaluator.domain.plan import plan_calls
from services.evaluator.domain.results import ItemResult
from services.evaluator.domain.scorecard import build_completed, failing_endpoint
from services.evaluator.domain.stability import stability_summary

SPEC = CandidateSpec(name="c", model="m", task="t", engine="openai", endpoint="http://127.0.0.1:1")
TASK = TaskSpec(name="t", metric="choice", metric_args={"labels": ["yes", "no"]})


def _req(**kw) -> EvaluationRequested:
    base = dict(evaluation_id="e1", candidate_id="c1", champion_id="p1", task="t", candidate=SPEC, champion=SPEC,
                task_spec=TASK, kinds=["accuracy"], stability_repeats=3)
    return EvaluationRequested(**{**base, **kw})


def _res(role, item, score, kind="accuracy", dataset="d", **kw) -> ItemResult:
    return ItemResult(kind=kind, role=role, dataset=dataset, item_id=item, score=score, **kw)


def test_plan_calls_counts_each_kind():
    items = {"d": [DatasetItem(id=str(i), input="x") for i in range(4)]}
    attacks = [DatasetItem(id="a", input="y", metadata={"category": "c", "detector": "canary"})]
    calls = plan_calls(_req(kinds=["accuracy", "stability", "security", "e2e"]), items, attacks)
    kinds = [c.kind for c in calls]
    assert kinds.count("accuracy") == 8 and kinds.count("stability") == 12
    assert kinds.count("security") == 1 and kinds.count("e2e") == 4
    assert {c.request.temperature for c in calls if c.kind == "stability"} == {0.7}
    assert len({c.key for c in calls}) == len(calls)


def test_compare_dataset_pairs_by_item_and_skips_unscorable_judge_items():
    cand = [_res("candidate", str(i), 1.0) for i in range(30)] + [_res("candidate", "x", None, judge="unparseable")]
    champ = [_res("champion", str(i), 0.0 if i < 20 else 1.0) for i in range(30)] + [_res("champion", "x", 1.0)]
    c = compare_dataset("d", "choice", cand, champ, binary=True, n_boot=500)
    assert c.n == 30 and c.difference == pytest.approx(20 / 30) and c.verdict == "better"
    assert c.judge_unparseable == 1 and c.test == "mcnemar_exact"


def test_holm_changes_verdict_of_a_marginal_dataset():
    marginal = MetricComparison(dataset="a", metric="m", n=10, candidate_score=0.6, difference=0.1, p_value=0.03,
                                verdict="better")
    strong = MetricComparison(dataset="b", metric="m", n=10, candidate_score=0.9, difference=0.3, p_value=0.001,
                              verdict="better")
    adjusted = holm_adjust([marginal, strong])
    assert adjusted[0].p_adjusted == pytest.approx(0.03) and adjusted[0].verdict == "better"
    three = holm_adjust([marginal, strong, marginal.model_copy(update={"dataset": "c", "p_value": 0.04})])
    assert three[0].p_adjusted == pytest.approx(0.06) and three[0].verdict == "no_significant_difference"
    assert overall_verdict(three) == "better"
    assert overall_verdict([*three, strong.model_copy(update={"difference": -0.3, "verdict": "worse"})]) == "worse"


def test_stability_summary_kappa_flips_and_spread():
    outputs = {"1": ["yes", "yes", "yes"], "2": ["no", "no", "no"], "3": ["yes", "no", "yes"]}
    rows = [ItemResult("stability", "candidate", "d", i, r, output=o, score=float(o == "yes"))
            for i, outs in outputs.items() for r, o in enumerate(outs)]
    s = stability_summary("choice", TASK.metric_args, rows, 3, None)
    assert s.flipping_items == ["d/3"] and s.exact_match_consistency == pytest.approx(2 / 3)
    assert s.fleiss_kappa is not None and 0 < s.fleiss_kappa < 1
    assert s.accuracy_spread == pytest.approx(1 / 3)


def test_failing_endpoint_and_completed_event():
    ok = [_res("candidate", str(i), 1.0, input_tokens=5, output_tokens=2) for i in range(4)]
    bad = [_res("champion", str(i), 0.0, error="connect: refused") for i in range(4)]
    assert "champion endpoint failed 4 of 4" in failing_endpoint([*ok, *bad])
    champ = [_res("champion", str(i), 0.0) for i in range(4)]
    done = build_completed(_req(), {"d": []}, [], [*ok, *champ], n_boot=200)
    assert done.accuracy[0].candidate_score == 1.0 and done.tokens.candidate_input == 20
    assert done.verdict == "no_significant_difference"  # 4 discordant pairs: p = 0.125
