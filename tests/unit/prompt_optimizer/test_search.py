from schemas.task import DatasetItem
from services.prompt_optimizer.domain.optimize import optimize
from services.prompt_optimizer.domain.search import SearchConfig
from tests.unit.prompt_optimizer.scripted import ScriptedProposer, ScriptedTarget, evaluator, items

CURRENT = "Say something about: {input}"


def magic(template: str, _item: object) -> bool:
    return "step by step" in template


async def test_opro_finds_the_instruction_that_works_and_proves_it_on_held_out_data() -> None:
    proposer = ScriptedProposer(["Instruction: Be brief.", "Think step by step, then answer with the label."])
    target = ScriptedTarget(magic)
    out = await optimize(items(), CURRENT, SearchConfig(strategy="instruction", max_rounds=2, per_round=2),
                         evaluator(target), proposer)
    assert out.best.variant.instruction == "Think step by step, then answer with the label."
    assert out.best.mean == 1.0 and out.search.baseline.mean == 0.0
    assert out.promoted and out.decision.comparison is not None
    assert out.decision.comparison.p_value < 0.001
    assert out.baseline_test is not None and out.baseline_test.mean == 0.0
    assert out.best_test is not None and out.best_test.mean == 1.0


async def test_meta_prompt_lists_history_worst_first_with_scores() -> None:
    proposer = ScriptedProposer(["Be brief about it.", "Think step by step now."])
    await optimize(items(), CURRENT, SearchConfig(strategy="instruction", max_rounds=2, per_round=2),
                   evaluator(ScriptedTarget(magic)), proposer)
    last = proposer.prompts[-1]
    assert last.index("Score: 0") < last.index("Think step by step now.") < last.index("Score: 100")
    assert "Say something about" in proposer.prompts[0]


async def test_fewshot_picks_demonstrations_from_train_only() -> None:
    out = await optimize(items(), CURRENT, SearchConfig(strategy="fewshot", max_rounds=1, per_round=2, shots=4),
                         evaluator(ScriptedTarget(lambda t, _i: t.count("Answer: ") >= 3)), None)
    train_inputs = {i.input for i in out.splits.train}
    assert out.best.variant.origin == "fewshot" and len(out.best.variant.demos) == 4
    assert {d.input for d in out.best.variant.demos} <= train_inputs
    assert {d.answer for d in out.best.variant.demos} == {"positive", "negative"}  # label-balanced
    assert out.promoted


async def test_combined_keeps_best_demos_when_proposing_instructions() -> None:
    def needs_both(template: str, item: DatasetItem) -> bool:
        demos = "Answer: positive" in template
        return demos and ("carefully" in template or item.expected == "positive")

    proposer = ScriptedProposer(["Read the review carefully.", "Read the review carefully, then label it."])
    out = await optimize(items(), CURRENT, SearchConfig(strategy="combined", max_rounds=3, per_round=1),
                         evaluator(ScriptedTarget(needs_both)), proposer)
    assert out.best.mean == 1.0 and out.promoted
    assert out.best.variant.origin == "opro" and out.best.variant.demos


async def test_same_seed_gives_same_splits_and_trials() -> None:
    async def once() -> list[tuple[str, float]]:
        out = await optimize(items(), CURRENT, SearchConfig(strategy="fewshot", max_rounds=2, seed=7),
                             evaluator(ScriptedTarget(lambda t, i: hash(t) % 3 == 0)), None)
        return [(t.template, t.mean) for t in out.search.trials] + [(str(out.splits.record()), 0.0)]

    assert await once() == await once()


async def test_pareto_set_keeps_cheaper_prompt_with_equal_score() -> None:
    out = await optimize(items(), CURRENT, SearchConfig(strategy="fewshot", max_rounds=2, per_round=2),
                         evaluator(ScriptedTarget(lambda _t, _i: True)), None)
    assert out.search.baseline in out.pareto  # shortest prompt, same score: always on the front
    assert all(t.input_tokens >= out.search.baseline.input_tokens for t in out.search.trials)
    assert not out.promoted  # nothing beat the current prompt


async def test_strategy_needing_an_optimizer_model_without_one_fails_clearly() -> None:
    try:
        await optimize(items(), CURRENT, SearchConfig(strategy="instruction"), evaluator(ScriptedTarget(magic)), None)
    except ValueError as exc:
        assert "needs an optimizer model" in str(exc)
    else:
        raise AssertionError("expected a ValueError")
