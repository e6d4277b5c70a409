"""The real demo through the service: Gemma-3-270M (a BASE model, completion style) on the
built-in sentiment task, with SmolLM2-135M-Instruct proposing instructions. Small budget."""

from pathlib import Path

import pytest

from schemas.candidate import CandidateSpec, Decoding, Engine, ProcessingStep
from schemas.events.prompts import Budget, PromptOptimizationRequested
from shared.datasets import BUILTIN_TASKS
from tests.integration.prompt_optimizer.helpers import dataset_ref, publish, results_for, running_service


def report_written(index: Path) -> bool:
    return index.exists() and (index.parent / "rounds.png").stat().st_size > 0 and "<table>" in index.read_text()


BUDGET = Budget(max_optimizer_calls=1, max_eval_calls=40, max_tokens=30_000)


@pytest.mark.models
async def test_gemma3_prompt_optimized_by_smollm2_with_held_out_proof(
        broker: str, uid: str, tmp_path: Path, gemma3_url: str, smollm2_url: str) -> None:
    task = BUILTIN_TASKS["sentiment"].spec.model_copy(update={
        "prompt_style": "completion", "datasets": [dataset_ref(tmp_path, "sentiment", 16)]})
    gemma = CandidateSpec(name="gemma3-base", model="gemma3", task="sentiment", engine=Engine.openai,
                          endpoint=gemma3_url, decoding=Decoding(max_tokens=3, stop=["\n"]),
                          postprocess=[ProcessingStep(op="strip", args={"lower": True})])
    smol = CandidateSpec(name="smollm2-optimizer", model="smollm2", task="sentiment", engine=Engine.openai,
                         endpoint=smollm2_url)
    req = PromptOptimizationRequested(run_id=f"demo-{uid}", candidate_id=f"cand-{uid}", task="sentiment",
                                      candidate=gemma, task_spec=task, optimizer=smol, strategy="combined",
                                      max_rounds=1, candidates_per_round=1, shots=2, budget=BUDGET)
    async with running_service(broker, tmp_path, uid):
        await publish(broker, req)
        [env] = await results_for(broker, req.run_id, 1, timeout=400)
        await publish(broker, req)  # redelivered: re-published from the stored result, no new model calls
        again = await results_for(broker, req.run_id, 2, timeout=30)
    done = env.data
    print(f"\nheld-out sentiment accuracy of Gemma-3-270M: before {done.baseline_score:.3f}, "
          f"after {done.best_score:.3f}, p={done.p_value}; accepted={done.accepted}: {done.reason}\n"
          f"spent {done.spent}; stopped: {done.stopped}\nprompt:\n{done.prompt_template}")
    assert env.type == "io.challenger.prompt.optimized"
    assert done.spent["eval_calls"] <= BUDGET.max_eval_calls and done.spent["optimizer_calls"] <= 1
    assert done.spent["tokens"] <= BUDGET.max_tokens
    assert len(done.splits["test"]) == 8 and not set(done.splits["test"]) & set(done.splits["train"])
    assert report_written(Path(done.report_path))
    significant = done.p_value is not None and done.p_value < req.alpha and done.best_score > done.baseline_score
    assert done.accepted == significant
    if done.accepted:
        assert done.derived_spec is not None and done.derived_spec.parent_id == req.candidate_id
        assert done.prompt_template is not None and "{input}" in done.prompt_template
    assert len(again) == 2 and again[1].data == done and again[1].id != env.id
