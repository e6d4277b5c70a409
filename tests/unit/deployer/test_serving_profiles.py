"""The deployer gives every route target its serving profile (the prompt and steps it was
evaluated with), and the staging evaluation sends raw inputs so the gateway applies them once."""

from __future__ import annotations

from schemas.candidate import Decoding, ProcessingStep
from schemas.events.deployments import RouteTable
from schemas.events.evaluations import EvaluationRequested
from schemas.events.models import ModelApproved
from services.deployer.domain import driver, routes
from tests.unit.deployer.factories import env, evaluation, loadtest, spec, submitted, task_spec

ENV = env()
LABELS = ProcessingStep(op="label_map", args={"map": {"pos": "positive"}})


def _submitted():
    candidate = spec().model_copy(update={"postprocess": [LABELS], "prompt_version": "pv-2",
                                          "decoding": Decoding(max_tokens=8, stop=["\n"])})
    task = task_spec().model_copy(update={"prompt_template": "Review: {input}\nSentiment:", "prompt_style":
                                          "completion", "system_prompt": None, "prompt_version": "pv-2"})
    champion_task = task_spec().model_copy(update={"prompt_template": "Classify: {input}",
                                                   "system_prompt": "Be brief."})
    return submitted().model_copy(update={"spec": candidate, "task_spec": task, "champion_task_spec": champion_task})


def test_a_target_serves_the_prompt_decoding_and_steps_it_was_evaluated_with():
    ev = _submitted()
    target = routes.target("cand-1", ev.spec, ev.task_spec)
    assert target.prompt_version == "pv-2" and target.serving is not None
    assert target.serving.prompt_template == "Review: {input}\nSentiment:"
    assert target.serving.prompt_style == "completion"
    assert target.serving.postprocess == [LABELS] and target.serving.decoding.stop == ["\n"]
    bare = routes.target("x", spec(), None).serving
    assert bare is not None and bare.prompt_template == "{input}" and bare.system_prompt is None


def test_staging_serves_the_candidate_profile_and_evaluates_through_it_with_raw_inputs():
    res = driver.on_submitted(_submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    [table] = [o for o in res.out if isinstance(o, RouteTable)]
    assert table.targets[0].serving.prompt_template == "Review: {input}\nSentiment:"
    [staging] = [o for o in res.out if isinstance(o, EvaluationRequested)]
    task = staging.task_spec
    assert (task.prompt_template, task.prompt_style, task.system_prompt) == ("{input}", "chat", None)
    assert task.datasets and task.prompt_version == "pv-2"
    assert staging.candidate.postprocess == [] and staging.candidate.preprocess == []


def test_the_canary_serves_each_side_with_its_own_prompt():
    res = driver.on_submitted(_submitted(), "c")
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:dev-eval"), ENV)
    res = driver.on_loadtest_completed(res.run, loadtest(), ENV)
    res = driver.on_evaluation_completed(res.run, evaluation("cand-1:staging-eval", e2e=True, stage="staging"), ENV)
    res = driver.on_approved(res.run, ModelApproved(candidate_id="cand-1", approver="bob"), ENV)
    [table] = [o for o in res.out if isinstance(o, RouteTable)]
    served = {t.candidate_id: t.serving for t in table.targets}
    assert served["cand-1"].prompt_style == "completion" and served["cand-1"].postprocess == [LABELS]
    assert served["champ-1"].prompt_template == "Classify: {input}" and served["champ-1"].system_prompt == "Be brief."
    assert table.fallbacks[0].serving == served["champ-1"]
