from pathlib import Path

from schemas.candidate import CandidateSpec, Engine
from schemas.events.prompts import PromptOptimizationRequested
from schemas.task import TaskSpec
from services.prompt_optimizer.domain.optimize import optimize
from services.prompt_optimizer.domain.optimized import to_event
from services.prompt_optimizer.domain.search import SearchConfig
from tests.unit.prompt_optimizer.scripted import ScriptedTarget, evaluator, items

CURRENT = "Review: {input}\nSentiment:"


def request(run_id: str = "run-42") -> PromptOptimizationRequested:
    cand = CandidateSpec(name="gemma3-base", model="gemma3", task="sentiment", engine=Engine.llamacpp,
                         endpoint="http://127.0.0.1:8302", tags={"team": "a"})
    return PromptOptimizationRequested(run_id=run_id, candidate_id="cand-1", task="sentiment", candidate=cand,
                                       task_spec=TaskSpec(name="sentiment", prompt_template=CURRENT),
                                       strategy="fewshot")


async def test_accepted_result_carries_template_lineage_splits_and_test() -> None:
    out = await optimize(items(), CURRENT, SearchConfig(strategy="fewshot", max_rounds=1),
                         evaluator(ScriptedTarget(lambda t, _i: "Answer: negative" in t)), None)
    event = to_event(request(), out, Path("/tmp/r/index.html"))
    assert event.accepted and event.prompt_template == out.best.template
    assert event.derived_spec is not None and event.derived_spec.parent_id == "cand-1"
    assert event.derived_spec.name == "gemma3-base-po-run42" and event.derived_spec.prompt_version is None
    assert event.derived_spec.tags == {"team": "a", "derived_by": "prompt_optimizer",
                                       "prompt_optimization_run": "run-42"}
    assert event.baseline_score == 0.0 and event.best_score == 1.0
    assert event.comparison is not None and event.comparison["test"] == "mcnemar_exact"
    assert event.p_value == event.comparison["p_value"] < 0.05
    assert set(event.splits) == {"train", "validation", "test"} and len(event.splits["test"]) == 20
    assert event.spent["eval_calls"] == out.spent.eval_calls and event.pareto


async def test_rejected_result_promotes_nothing() -> None:
    out = await optimize(items(), CURRENT, SearchConfig(strategy="fewshot", max_rounds=1),
                         evaluator(ScriptedTarget(lambda *_: False)), None)
    event = to_event(request(), out, Path("/tmp/r/index.html"))
    assert not event.accepted and event.reason.startswith("no significant gain")
    assert event.prompt_template is None and event.derived_spec is None and event.p_value is None
