import pytest

from schemas.events.prompts import Budget
from services.prompt_optimizer.domain.budget import BudgetExhausted, BudgetMeter
from services.prompt_optimizer.domain.gate import decide
from services.prompt_optimizer.domain.optimize import optimize
from services.prompt_optimizer.domain.search import SearchConfig
from services.prompt_optimizer.domain.splits import split_items
from tests.unit.prompt_optimizer.scripted import ScriptedProposer, ScriptedTarget, evaluator, items

CURRENT = "Say something about: {input}"
MANY_ROUNDS = SearchConfig(strategy="combined", max_rounds=50, per_round=2)


def fresh_ideas() -> ScriptedProposer:
    return ScriptedProposer([f"Instruction number {i} for the model." for i in range(500)])


async def test_eval_call_budget_stops_search_but_keeps_the_held_out_proof() -> None:
    target = ScriptedTarget(lambda t, _i: "Answer: positive" in t)
    out = await optimize(items(), CURRENT, MANY_ROUNDS, evaluator(target, Budget(max_eval_calls=85)), fresh_ideas())
    assert out.search.stopped.startswith("budget: evaluation-call budget 85")
    assert target.calls == out.spent.eval_calls == 85  # 45 searching (one variant cut short) + 40 held out
    assert out.best_test is not None and out.baseline_test is not None  # the reserved 2 x 20 test calls ran
    assert out.promoted


async def test_optimizer_call_budget_is_exact() -> None:
    proposer = fresh_ideas()
    out = await optimize(items(), CURRENT, SearchConfig(strategy="instruction", max_rounds=50),
                         evaluator(ScriptedTarget(lambda *_: False), Budget(max_optimizer_calls=3)), proposer)
    assert len(proposer.prompts) == out.spent.optimizer_calls == 3
    assert "optimizer-call budget 3" in out.search.stopped


async def test_token_budget_holds_back_tokens_for_the_proof() -> None:
    target = ScriptedTarget(lambda t, _i: "Answer: positive" in t)
    out = await optimize(items(), CURRENT, MANY_ROUNDS, evaluator(target, Budget(max_tokens=3_000)), fresh_ideas())
    assert "token budget" in out.search.stopped
    assert out.spent.tokens <= 3_000  # at most one call's tokens past the check
    assert out.best_test is not None


async def test_budget_too_small_for_any_proof_refuses_up_front() -> None:
    with pytest.raises(BudgetExhausted, match="held-out proof needs 40"):
        await optimize(items(), CURRENT, MANY_ROUNDS, evaluator(ScriptedTarget(lambda *_: True),
                                                                 Budget(max_eval_calls=30)), None)


def test_time_budget_is_checked_before_each_call() -> None:
    now = [0.0]
    meter = BudgetMeter(Budget(max_seconds=5), clock=lambda: now[0])
    meter.before_eval()
    meter.after_eval(10)
    now[0] = 5.0
    with pytest.raises(BudgetExhausted, match="time budget"):
        meter.before_eval()


def test_one_slow_call_does_not_hold_its_time_for_every_reserved_call() -> None:
    """A demo run under load: a first 4 s call (a cold model) among 0.1 s ones must not
    reserve 4 s for each of the 40 held-out calls (160 s) and end a run with minutes left;
    the reservation is projected at the mean call time once 5 calls are timed."""
    now = [0.0]
    meter = BudgetMeter(Budget(max_seconds=100, max_eval_calls=200), clock=lambda: now[0])
    meter.reserve(40)
    for seconds in (4.0, *[0.1] * 19):
        meter.before_eval()
        now[0] += seconds
        meter.after_eval(10)
    meter.before_eval()  # 5.9 s spent + 40 x 0.295 s mean = 17.7 s < 100 s
    now[0] = 90.0
    with pytest.raises(BudgetExhausted, match="time budget"):  # 90 s + 11.8 s reserved >= 100 s
        meter.before_eval()


def test_gate_rejects_a_gain_that_is_not_significant() -> None:
    current = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    best = [1, 1, 1, 0, 1, 0, 1, 0, 1, 0]  # +0.1 on 10 items: one discordant pair
    decision = decide(best, current)
    assert not decision.accepted and decision.reason.startswith("no significant gain")
    assert decision.comparison is not None and decision.comparison.p_value == 1.0


def test_gate_accepts_a_significant_gain_and_says_which_test() -> None:
    decision = decide([1] * 18 + [0, 0], [0] * 16 + [1] * 4)
    assert decision.accepted and "mcnemar_exact" in decision.reason
    assert decision.comparison is not None and decision.comparison.p_value < 0.01


def test_gate_uses_the_permutation_test_for_graded_scores() -> None:
    decision = decide([0.5, 0.75, 0.25, 0.5], [0.5, 0.5, 0.5, 0.5])
    assert decision.comparison is not None and decision.comparison.test == "paired_permutation"
    assert not decision.accepted


async def test_validation_winner_that_fails_on_test_is_not_promoted() -> None:
    """Overfits validation: right on validation items only, so the held-out test shows no gain."""
    holder: dict[str, set[str]] = {}

    def overfit(template: str, item: object) -> bool:
        return "Answer: positive" in template and getattr(item, "id", "") in holder["val"]

    cfg = SearchConfig(strategy="fewshot", max_rounds=1)
    holder["val"] = {i.id for i in split_items(items(), cfg.seed).validation}
    out = await optimize(items(), CURRENT, cfg, evaluator(ScriptedTarget(overfit)), None)
    assert out.best.mean == 1.0  # looks perfect on validation
    assert out.best_test is not None and out.best_test.mean == 0.0
    assert not out.promoted and out.decision.reason.startswith("no significant gain")
