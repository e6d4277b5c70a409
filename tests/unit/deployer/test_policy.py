"""The promotion policy on crafted scorecards; accuracy counts only with a significant result."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.events.loadtests import TrafficUsed
from services.deployer.adapters.policy_file import DEFAULT_POLICY, PolicyError, load_policy
from services.deployer.domain.policy import Policy, decide_dev, decide_dev_evaluation, decide_staging
from services.evaluator.domain.garak import summarize
from tests.unit.deployer.factories import comparison, evaluation, loadtest

POLICY = load_policy(DEFAULT_POLICY).for_task("sentiment")


def test_significant_better_passes():
    ev = evaluation("e", acc=comparison("better", p=0.01, ci_low=0.02, diff=0.08))
    d = decide_dev(POLICY, ev, loadtest(), True, optimized=False)
    assert d.outcome == "pass", d.reasons


def test_better_without_significance_is_only_no_difference_and_needs_non_inferiority():
    ev = evaluation("e", acc=comparison("better", p=0.2, ci_low=-0.12, diff=0.04))
    d = decide_dev(POLICY, ev, loadtest(), True, optimized=True)
    assert d.outcome == "fail"
    assert any("not shown non-inferior" in r for r in d.reasons)


def test_no_difference_with_tight_interval_passes():
    ev = evaluation("e", acc=comparison("no_significant_difference", p=0.6, ci_low=-0.03))
    assert decide_dev(POLICY, ev, loadtest(), True, optimized=False).outcome == "pass"


def test_worse_goes_to_prompt_optimization_once_then_fails():
    ev = evaluation("e", acc=comparison("worse", p=0.001, ci_low=-0.3, diff=-0.2))
    assert decide_dev(POLICY, ev, loadtest(), True, optimized=False).outcome == "optimize"
    assert decide_dev(POLICY, ev, loadtest(), True, optimized=True).outcome == "fail"


def test_worse_without_significance_is_not_worse():
    ev = evaluation("e", acc=comparison("worse", p=0.3, ci_low=-0.04, diff=-0.01))
    assert decide_dev(POLICY, ev, loadtest(), True, optimized=True).outcome == "pass"


def test_too_few_items_never_counts():
    ev = evaluation("e", acc=comparison("better", p=0.001, ci_low=0.1, n=5, diff=0.3))
    d = decide_dev(POLICY, ev, loadtest(), True, optimized=True)
    assert d.outcome == "fail" and "min_items" in d.summary


def test_security_and_stability_are_hard_gates_at_the_dev_evaluation():
    assert decide_dev_evaluation(POLICY, evaluation("e", asr=0.5), True).outcome == "fail"
    assert decide_dev_evaluation(POLICY, evaluation("e", agreement=0.5), True).outcome == "fail"
    assert decide_dev_evaluation(POLICY, evaluation("e"), True).outcome == "pass"


def test_cost_and_latency_limits():
    ev = evaluation("e")
    assert decide_dev(POLICY, ev, loadtest(delta_usd=2.0), True, optimized=False).outcome == "fail"
    assert decide_dev(POLICY, ev, loadtest(delta_usd=0.4, champion_usd=1.0), True, optimized=False).outcome == "fail"
    assert decide_dev(POLICY, ev, loadtest(ttft_p95=9000), True, optimized=False).outcome == "fail"
    assert decide_dev(POLICY, ev, loadtest(errors=5), True, optimized=False).outcome == "fail"
    d = decide_dev(POLICY, ev, loadtest(delta_usd=-0.2), True, optimized=False)
    assert d.outcome == "pass" and any("p95 TTFT" in r for r in d.reasons)


def test_first_model_without_champion_needs_the_minimum_score():
    acc = comparison().model_copy(update={"champion_score": None, "candidate_score": 0.3})
    policy = Policy.model_validate({"defaults": {"accuracy": {"min_score_without_champion": 0.5,
                                                               "allow_prompt_optimization": False}}})
    assert decide_dev(policy.for_task("x"), evaluation("e", acc=acc), loadtest(), False,
                      optimized=False).outcome == "fail"


def test_staging_needs_e2e_and_red_team():
    assert decide_staging(POLICY, evaluation("s", e2e=True, stage="staging")).outcome == "pass"
    assert decide_staging(POLICY, evaluation("s", e2e=False, stage="staging")).outcome == "fail"
    assert decide_staging(POLICY, evaluation("s", e2e=True, asr=0.4, stage="staging")).outcome == "fail"


def test_yaml_default_and_per_task_override(tmp_path: Path):
    assert load_policy(DEFAULT_POLICY).for_task("any").canary.steps == [5, 25, 50, 100]
    path = tmp_path / "p.yaml"
    path.write_text("defaults:\n  security: {max_attack_success_rate: 0.2}\n"
                    "tasks:\n  strict: {security: {max_attack_success_rate: 0.01}, canary: {steps: [10, 100]}}\n")
    policy = load_policy(path)
    assert policy.for_task("strict").security.max_attack_success_rate == 0.01
    assert policy.for_task("strict").canary.steps == [10, 100]
    assert policy.for_task("other").security.max_attack_success_rate == 0.2


@pytest.mark.parametrize(("body", "reason"), [
    ("defaults:\n  security: {max_attack_success_rate: 3}\n", "max_attack_success_rate"),
    # a task's section is checked when the policy loads, not when its first candidate arrives
    ("tasks:\n  t:\n    accuracy: {non_inferiority_margn: 0.2}\n", "section tasks.t"),
])
def test_invalid_policy_is_refused_with_the_reason(tmp_path: Path, body: str, reason: str):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(PolicyError, match=reason):
        load_policy(path)



def test_poor_accuracy_goes_to_prompt_optimization_even_when_the_load_test_also_failed():
    ev = evaluation("e", acc=comparison("worse", p=0.001, ci_low=-0.6, diff=-0.5))
    assert decide_dev(POLICY, ev, loadtest(errors=15), True, optimized=False).outcome == "optimize"
    assert decide_dev(POLICY, ev, loadtest(errors=15), True, optimized=True).outcome == "fail"


def test_staging_gates_each_garak_family_against_its_limit():
    report = Path(__file__).parents[1] / "evaluator" / "data" / "garak_report.jsonl"
    garak = summarize(report.read_text().splitlines(), ["dan", "encoding", "promptinject"])
    policy = Policy.model_validate({"defaults": {"staging": {"garak": {
        "probes": ["dan.Dan_11_0", "encoding.InjectBase64", "promptinject.HijackHateHumans"],
        "max_attack_success_rate": 0.7, "families": {"dan": 1.0}}}}}).for_task("x")
    ev = evaluation("s", e2e=True, stage="staging").model_copy(update={"garak": garak})
    decision = decide_staging(policy, ev)
    assert decision.outcome == "pass", decision.reasons
    assert "garak[promptinject]: attack success rate 0.667 <= 0.7 (6 answers)" in decision.reasons
    strict = policy.model_copy(update={"staging": policy.staging.model_copy(update={
        "garak": policy.staging.garak.model_copy(update={"families": {}})})})
    failed = decide_staging(strict, ev)
    assert failed.outcome == "fail"
    assert "garak[dan]: attack success rate 1.000 > 0.7 (1 answers)" in failed.reasons


def test_configured_garak_probes_without_a_result_fail_staging():
    policy = Policy.model_validate({"defaults": {"staging": {"garak": {"probes": ["dan"]}}}}).for_task("x")
    decision = decide_staging(policy, evaluation("s", e2e=True, stage="staging"))
    assert decision.outcome == "fail"
    assert "garak: probes were configured but no garak result came back" in decision.reasons


def test_no_garak_probes_means_no_garak_verdict():
    assert not any(r.startswith("garak") for r in decide_staging(POLICY, evaluation("s", e2e=True,
                                                                                      stage="staging")).reasons)


# ---- underpowered gates ------------------------------------------------------------------

def test_no_difference_on_too_few_items_for_the_margin_fails_and_says_how_many_are_needed():
    # the case: 40 items, MDE 0.29, a relaxed margin 0.2 the CI clears
    relaxed = Policy.model_validate({"tasks": {"t": {"accuracy": {"non_inferiority_margin": 0.2}}}}).for_task("t")
    ev = evaluation("e", acc=comparison("no_significant_difference", p=0.3, ci_low=-0.1, n=40, mde=0.29))
    d = decide_dev(relaxed, ev, loadtest(), True, optimized=True)
    assert d.outcome == "fail"
    assert "underpowered: MDE 0.290 > margin 0.2, need about 85 items" in d.summary


def test_underpowered_under_the_default_margin():
    ev = evaluation("e", acc=comparison("no_significant_difference", p=0.6, ci_low=-0.03, n=40, mde=0.29))
    d = decide_dev(POLICY, ev, loadtest(), True, optimized=True)
    assert d.outcome == "fail" and "underpowered: MDE 0.290 > margin 0.05, need about 1346 items" in d.summary


def test_the_policy_may_let_an_underpowered_verdict_stand_but_it_still_says_so():
    warn = Policy.model_validate({"defaults": {"accuracy": {"underpowered": "warn", "non_inferiority_margin": 0.2}}})
    ev = evaluation("e", acc=comparison("no_significant_difference", p=0.3, ci_low=-0.1, n=40, mde=0.29))
    d = decide_dev(warn.for_task("t"), ev, loadtest(), True, optimized=True)
    assert d.outcome == "pass" and "underpowered: MDE 0.290 > margin 0.2" in d.summary and "warn" in d.summary


def test_enough_items_or_a_significant_result_is_not_underpowered():
    enough = evaluation("e", acc=comparison("no_significant_difference", p=0.6, ci_low=-0.03, n=2000, mde=0.04))
    assert decide_dev(POLICY, enough, loadtest(), True, optimized=True).outcome == "pass"
    better = evaluation("e", acc=comparison("better", p=0.001, ci_low=0.05, n=40, diff=0.3, mde=0.29))
    d = decide_dev(POLICY, better, loadtest(), True, optimized=True)
    assert d.outcome == "pass" and "underpowered" not in d.summary


# ---- monthly cost ---------------------------------------------------------------------------

def test_the_policy_can_limit_the_monthly_cost_and_its_delta_at_the_tasks_traffic():
    traffic = TrafficUsed(requests_per_month=1e6, input_tokens=120, output_tokens=8,
                          source="the task's traffic profile")
    rule = Policy.model_validate({"defaults": {"cost": {"max_monthly_usd": 500, "max_delta_monthly_usd": 50}}})
    policy, ev = rule.for_task("t"), evaluation("e")
    ok = decide_dev(policy, ev, loadtest(monthly_usd=400, delta_monthly_usd=20, traffic=traffic), True, optimized=True)
    assert ok.outcome == "pass"
    assert "1,000,000 requests/month x 120 in / 8 out tokens (traffic from the task's traffic profile)" in ok.summary
    dear = decide_dev(policy, ev, loadtest(monthly_usd=900, delta_monthly_usd=20, traffic=traffic), True,
                      optimized=True)
    assert dear.outcome == "fail" and "monthly $ 900.00 > 500" in dear.summary
    delta = decide_dev(policy, ev, loadtest(monthly_usd=400, delta_monthly_usd=80, traffic=traffic), True,
                       optimized=True)
    assert delta.outcome == "fail" and "delta monthly $ +80.00 > 50" in delta.summary


def test_an_unmeasured_monthly_cost_fails_only_when_measurement_is_required():
    ev = evaluation("e")
    lenient = Policy.model_validate({"defaults": {"cost": {"max_monthly_usd": 500}}}).for_task("t")
    assert decide_dev(lenient, ev, loadtest(), True, optimized=True).outcome == "pass"
    strict = Policy.model_validate({"defaults": {"cost": {"max_monthly_usd": 500, "require_measurement": True}}})
    d = decide_dev(strict.for_task("t"), ev, loadtest(), True, optimized=True)
    assert d.outcome == "fail" and "monthly $ not measured" in d.summary


# ---- where each value comes from ------------------------------------------------------------

def test_each_value_says_which_section_set_it():
    policy = Policy.model_validate({"defaults": {"accuracy": {"min_items": 30}},
                                    "tasks": {"t": {"accuracy": {"non_inferiority_margin": 0.2}}}})
    explained = policy.explain("t")["accuracy"]
    assert explained["non_inferiority_margin"] == (0.2, "tasks.t")
    assert explained["min_items"] == (30, "defaults")
    assert explained["alpha"] == (0.05, "built-in")
    assert policy.explain("other")["accuracy"]["non_inferiority_margin"] == (0.05, "built-in")
    assert policy.section("t") == "tasks.t" and policy.section("other") == "defaults"


def test_a_gate_records_its_section_values_and_overrides():
    policy = Policy.model_validate({"tasks": {"t": {"accuracy": {"non_inferiority_margin": 0.2}}}})
    applied = policy.applied("t", ("accuracy", "cost"))
    assert applied.section == "tasks.t" and applied.overridden == ["accuracy.non_inferiority_margin"]
    assert applied.values["accuracy"]["non_inferiority_margin"] == 0.2 and set(applied.values) == {"accuracy", "cost"}
    assert policy.applied("mine", ("accuracy",)).section == "defaults"


def test_the_notes_the_cli_and_the_demo_print():
    from services.deployer.domain.policy import applied_note
    from services.registry.entrypoints.cli import monthly_cost_line

    policy = Policy.model_validate({"tasks": {"t": {"accuracy": {"non_inferiority_margin": 0.2,
                                                                 "underpowered": "warn"}}}})
    assert applied_note(policy.applied("t", ("accuracy",))) == (
        'tasks.t (accuracy.non_inferiority_margin=0.2, accuracy.underpowered="warn"; the rest from defaults)')
    assert applied_note(policy.applied("mine", ("accuracy",))) == "defaults"
    traffic = TrafficUsed(requests_per_month=250_000, input_tokens=61, output_tokens=2,
                          source="the datasets' lengths")
    card = {"loadtest": {"payload": loadtest(monthly_usd=511.0, delta_monthly_usd=255.5,
                                             traffic=traffic).model_dump(mode="json")}}
    assert monthly_cost_line(card) == ("monthly cost: $511.00 (+255.50 vs champion) at 250,000 requests/month x 61 in "
                                       "/ 2 out tokens (traffic from the datasets' lengths)")
    assert monthly_cost_line({"loadtest": None}) is None
