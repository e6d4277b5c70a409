"""Every transition the driver requests, checked against shared.pipeline, including the
illegal ones it refuses to request."""

from __future__ import annotations

import itertools

import pytest

from schemas.events.deployments import CanaryStepChanged, DeploymentChanged, RouteTable
from schemas.events.evaluations import EvaluationRequested
from schemas.events.loadtests import LoadtestRequested
from schemas.events.models import ModelApproved, ModelStageChanged, StageChangeRequested
from schemas.events.prompts import PromptOptimizationRequested, PromptOptimized
from services.deployer.adapters.policy_file import DEFAULT_POLICY, load_policy
from services.deployer.domain import driver
from services.deployer.domain.driver import Result
from services.deployer.domain.policy import Policy
from services.deployer.domain.run import Phase, Run
from shared.pipeline import TRANSITIONS, IllegalTransition, Stage, check_transition
from tests.unit.deployer.factories import comparison, env, evaluation, loadtest, spec, submitted

ENV = env(load_policy(DEFAULT_POLICY))


def requested(res: Result) -> list[str]:
    return [o.to_stage for o in res.out if isinstance(o, StageChangeRequested)]


def of(res: Result, cls: type) -> list:
    return [o for o in res.out if isinstance(o, cls)]


def walk(stages: list[str], start: Stage = Stage.submitted) -> None:
    current = start
    for to in stages:
        current = check_transition(current, to)


def to_awaiting_approval() -> tuple[Run, list[str]]:
    trail: list[str] = []
    res = driver.on_submitted(submitted(), "corr-1")
    trail += requested(res)
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    trail += requested(res)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    trail += requested(res)
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:staging-eval", e2e=True, stage="staging"), ENV)
    trail += requested(res)
    return res.run, trail


def test_submission_requests_evaluating_and_the_dev_evaluation():
    res = driver.on_submitted(submitted(), "corr-1")
    assert requested(res) == ["evaluating"]
    [ev] = of(res, EvaluationRequested)
    assert ev.evaluation_id == "cand-1:dev-eval" and ev.kinds == ["accuracy", "stability", "security"]
    assert ev.stage == "dev" and ev.champion_id == "champ-1" and ev.task_spec.datasets


def test_submission_without_datasets_is_rejected_with_the_reason():
    res = driver.on_submitted(submitted(with_task=False), "c")
    assert requested(res) == ["rejected"] and "no task spec" in res.run.history[-1].reason


def test_happy_path_requests_only_legal_moves_in_order():
    run, trail = to_awaiting_approval()
    assert trail == ["evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval"]
    walk(trail)
    res = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV)
    assert requested(res) == ["canary"]  # the registry applied 'approved' itself when it recorded the approval
    walk([*trail, "approved", "canary"])
    [table] = of(res, RouteTable)
    weights = {t.candidate_id: t.weight for t in table.targets}
    assert table.route == "sentiment" and weights == {"champ-1": 95.0, "cand-1": 5.0}
    assert [f.candidate_id for f in table.fallbacks] == ["champ-1"]
    [step] = of(res, CanaryStepChanged)
    assert step.weight_pct == 5 and step.decision == "advance"


def test_staging_routes_the_candidate_alone_and_tests_it_through_the_gateway():
    res = driver.on_submitted(submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    [table] = of(res, RouteTable)
    assert table.route == "sentiment-staging" and [t.candidate_id for t in table.targets] == ["cand-1"]
    [ev] = of(res, EvaluationRequested)
    assert ev.stage == "staging" and ev.kinds == ["e2e", "security"]
    assert ev.target_url == "http://127.0.0.1:8080" and ev.candidate.model == "sentiment-staging"
    assert ev.candidate.api_key_env == "CHALLENGER_GATEWAY_API_KEY"
    kinds = [type(o).__name__ for o in res.out]
    assert kinds.index("RouteTable") < kinds.index("EvaluationRequested")  # route first, then the smoke suite
    assert ev.garak is None  # the default policy runs no garak probes


def test_staging_asks_for_the_policys_garak_probes_against_the_staged_route():
    policy = Policy.model_validate({"defaults": {"staging": {"garak": {"probes": ["dan.Dan_11_0"], "prompt_cap": 3}}}})
    res = driver.on_submitted(submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), env(policy))
    res = driver.on_loadtest_completed(res.run, loadtest(), env(policy))
    [ev] = of(res, EvaluationRequested)
    assert ev.garak is not None and ev.garak.probes == ["dan.Dan_11_0"] and ev.garak.prompt_cap == 3
    assert ev.target_url == "http://127.0.0.1:8080" and ev.candidate.model == "sentiment-staging"


def test_failed_red_team_rejects():
    res = driver.on_submitted(submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval", asr=0.6), ENV)
    assert requested(res) == ["rejected"] and res.run.phase == Phase.done
    assert not of(res, LoadtestRequested)


def test_worse_accuracy_goes_through_prompt_optimization_and_is_superseded():
    worse = comparison("worse", p=0.001, ci_low=-0.3, diff=-0.2)
    res = driver.on_submitted(submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval", acc=worse), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    assert requested(res) == ["prompt_optimizing"] and of(res, PromptOptimizationRequested)
    [request] = of(res, PromptOptimizationRequested)
    assert request.optimizer is not None and request.optimizer.model == "smollm2"  # the champion optimizes
    assert request.optimizer_candidate_id == "champ-1" and request.strategy == "combined"
    derived = spec().model_copy(update={"prompt_version": "pv-2"})
    res = driver.on_prompt_optimized(res.run, PromptOptimized(run_id="cand-1:prompt-opt", candidate_id="cand-1",
                                                             accepted=True, reason="held-out gain p=0.01",
                                                             baseline_score=0.5, best_score=0.8,
                                                             derived_spec=derived))
    assert requested(res) == ["retired"] and "derived candidate" in res.run.history[-1].reason
    walk(["evaluating", "load_testing", "prompt_optimizing", "retired"])


def test_a_derived_candidate_gets_no_second_optimization_round():
    worse = comparison("worse", p=0.001, ci_low=-0.3, diff=-0.2)
    sub = submitted("cand-1").model_copy(update={"spec": spec().model_copy(update={"parent_id": "cand-0"})})
    res = driver.on_submitted(sub, "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval", acc=worse), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    assert requested(res) == ["rejected"]


def test_optimization_without_gain_rejects():
    run = Run(candidate_id="c", task="sentiment", correlation_id="x", spec=spec(), phase=Phase.optimizing,
              expected=Stage.prompt_optimizing)
    res = driver.on_prompt_optimized(run, PromptOptimized(run_id="c:prompt-opt", candidate_id="c", accepted=False,
                                                          reason="no significant gain", baseline_score=0.5,
                                                          best_score=0.52))
    assert requested(res) == ["rejected"]


def test_results_for_another_phase_are_ignored_not_acted_on():
    res = driver.on_submitted(submitted(), "c")
    ignored = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    assert ignored.out == [] and ignored.run.history[-1].action == "ignored load test"
    early = driver.on_approved(res.run, ModelApproved(candidate_id="cand-1", approver="mallory"), ENV)
    assert early.out == [] and early.run.phase == Phase.dev_eval and early.run.approved_by is None


def test_an_early_approval_is_never_applied_later():
    """The registry refuses approvals outside awaiting_approval; one seen early anyway (an old
    event) approved no evidence of this run: staging's pass waits for a real approval."""
    res = driver.on_submitted(submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    run = driver.on_approved(res.run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV).run
    assert run.history[-1].action == "approval ignored"
    res = driver.on_evaluation_completed(run, evaluation("cand-1:staging-eval", e2e=True, stage="staging"), ENV)
    assert requested(res) == ["awaiting_approval"]
    assert res.run.phase == Phase.awaiting_approval


@pytest.mark.parametrize(("current", "target"), list(itertools.product(list(Stage), list(Stage))))
def test_every_request_is_legal_or_refused_with_the_reason(current: Stage, target: Stage):
    run = Run(candidate_id="c", task="t", correlation_id="x", spec=spec(), stage=current, expected=current)
    if target in TRANSITIONS[current]:
        res = Result(run).request(target, "why")
        assert requested(res) == [target] and res.run.expected == target
    else:
        with pytest.raises(IllegalTransition, match=f"cannot move from {current} to {target}"):
            Result(run).request(target, "why")


def test_reject_from_canary_asks_for_rolled_back_not_an_illegal_rejected():
    run = Run(candidate_id="c", task="t", correlation_id="x", spec=spec(), stage=Stage.canary, expected=Stage.canary)
    assert requested(driver.reject(Result(run), "bad")) == ["rolled_back"]


def test_registry_refusal_blocks_the_run_and_resets_the_expected_stage():
    run, _ = to_awaiting_approval()
    run = run.model_copy(update={"stage": Stage.staging})
    res = driver.on_rejected(run, "awaiting_approval", "deployer", "cannot move from submitted to awaiting_approval")
    assert res.run.phase == Phase.blocked and res.run.expected == Stage.staging
    assert res.run.history[-1].reason.startswith("cannot move")
    other = driver.on_rejected(run, "production", "operator:eve", "illegal")
    assert other.run.phase == run.phase


def test_operator_promote_and_rollback_during_canary_move_the_route():
    run, _ = to_awaiting_approval()
    run = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV).run
    promoted = driver.on_stage_changed(run, ModelStageChanged(candidate_id="cand-1", task="sentiment",
                                                              from_stage="canary", to_stage="production",
                                                              actor="operator:ann", reason="looks good"), ENV)
    [table] = of(promoted, RouteTable)
    assert [t.candidate_id for t in table.targets] == ["cand-1"] and promoted.run.phase == Phase.done
    rolled = driver.on_stage_changed(run, ModelStageChanged(candidate_id="cand-1", task="sentiment",
                                                            from_stage="canary", to_stage="rolled_back",
                                                            actor="operator:ann", reason="pager"), ENV)
    [table] = of(rolled, RouteTable)
    assert [t.candidate_id for t in table.targets] == ["champ-1"]
    assert of(rolled, DeploymentChanged)[0].status == "stopped"
    assert requested(rolled) == []  # the registry already applied it


def test_first_model_without_champion_is_promoted_straight_away():
    res = driver.on_submitted(submitted(champion=False), "c")
    run = res.run.model_copy(update={"phase": Phase.awaiting_approval, "expected": Stage.awaiting_approval})
    res = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV)
    assert requested(res) == ["canary", "production"]
    walk(["approved", "canary", "production"], Stage.awaiting_approval)


def test_a_target_failing_its_health_check_as_the_canary_begins_gets_no_traffic():
    run, _ = to_awaiting_approval()
    res = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV)
    res = driver.abandon_canary(res, "http://127.0.0.1:30000/health did not answer 200")
    assert not of(res, RouteTable) and not of(res, CanaryStepChanged)
    assert requested(res) == ["canary", "rolled_back"] and of(res, DeploymentChanged)[0].status == "failed"


def test_the_registrys_own_approved_move_keeps_the_pending_canary_request():
    run, _ = to_awaiting_approval()
    run = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV).run
    assert run.expected == Stage.canary
    moved = driver.on_stage_changed(run, ModelStageChanged(candidate_id="cand-1", task="sentiment",
                                                           from_stage="awaiting_approval", to_stage="approved",
                                                           actor="bob", reason="approved"), ENV)
    assert moved.run.stage == Stage.approved and moved.run.expected == Stage.canary and moved.out == []
    Result(moved.run).request(Stage.production, "the canary passed")  # still legal from the pending canary


def test_the_policy_workload_sizes_the_dev_evaluation():
    from services.deployer.domain.policy import WorkloadRule

    workload = WorkloadRule(eval_max_items=12, stability_repeats=4, eval_concurrency=2)
    res = driver.on_submitted(submitted(), "c", workload)
    [request] = [o for o in res.out if o.event_type.endswith("evaluation.requested")]
    assert (request.max_items, request.stability_repeats, request.concurrency) == (12, 4, 2)


def test_a_completion_style_candidate_is_load_tested_on_the_completion_api():
    sub = submitted()
    sub = sub.model_copy(update={"task_spec": sub.task_spec.model_copy(update={"prompt_style": "completion"})})
    res = driver.on_submitted(sub, "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    [request] = of(res, LoadtestRequested)
    assert request.protocol == "openai-completions"


def test_each_gate_records_the_policy_section_and_values_it_judged_with():
    from services.deployer.domain.policy import Policy

    policy = Policy.model_validate({"tasks": {"sentiment": {"accuracy": {"non_inferiority_margin": 0.1}}}})
    mine = env(policy)
    res = driver.on_submitted(submitted(), "corr-1")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), mine)
    [moved] = of(res, StageChangeRequested)
    assert moved.to_stage == "load_testing" and moved.policy is not None
    assert moved.policy.section == "tasks.sentiment" and moved.policy.overridden == ["accuracy.non_inferiority_margin"]
    assert set(moved.policy.values) == {"security", "stability", "accuracy"}
    res = driver.on_loadtest_completed(res.run, loadtest(), mine)
    dev_passed = of(res, StageChangeRequested)[0]
    assert dev_passed.to_stage == "dev_passed" and set(dev_passed.policy.values) == {"cost", "latency", "accuracy"}
    other = driver.on_submitted(submitted().model_copy(update={"spec": spec().model_copy(update={"task": "mine"})}),
                                "c2")
    other = driver.on_evaluation_completed(other.run, evaluation("cand-1:dev-eval"), mine)
    assert of(other, StageChangeRequested)[0].policy.section == "defaults"


def test_the_load_test_carries_the_tasks_traffic_profile_and_its_source():
    from schemas.events.evaluations import RequestTokens

    res = driver.on_submitted(submitted(), "corr-1")
    ev = evaluation("cand-1:dev-eval").model_copy(
        update={"request_tokens": RequestTokens(requests=40, input_tokens=58.4, output_tokens=2.1)})
    [lt] = of(driver.on_evaluation_completed(res.run, ev, ENV), LoadtestRequested)
    assert (lt.input_tokens, lt.output_tokens) == (58, 2)
    assert lt.monthly_requests == ENV.policy.for_task("sentiment").cost.default_requests_per_month
    assert lt.traffic_source is not None and lt.traffic_source.startswith("the datasets' lengths")
