"""One optimization run, start to end: split, search on validation, prove on held-out test,
and list the Pareto set over score, prompt tokens and latency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetExhausted, Spend
from services.prompt_optimizer.domain.gate import ALPHA, Decision, decide, not_tested
from services.prompt_optimizer.domain.ports import Proposer
from services.prompt_optimizer.domain.search import Search, SearchConfig, SearchResult
from services.prompt_optimizer.domain.splits import Splits, split_items
from services.prompt_optimizer.domain.trials import Evaluator, Trial
from shared.pareto import Objective, pareto_front

OBJECTIVES: tuple[Objective[Trial], ...] = (
    Objective("validation score", lambda t: t.mean, maximize=True),
    Objective("prompt tokens", lambda t: t.input_tokens),
    Objective("latency ms", lambda t: t.latency_ms),
)


@dataclass(frozen=True)
class Outcome:
    splits: Splits
    search: SearchResult
    baseline_test: Trial | None
    best_test: Trial | None
    decision: Decision
    pareto: tuple[Trial, ...]
    spent: Spend

    @property
    def best(self) -> Trial:
        return self.search.best

    @property
    def promoted(self) -> bool:
        return self.decision.accepted


async def optimize(items: Sequence[DatasetItem], current_template: str, config: SearchConfig,
                   evaluator: Evaluator, proposer: Proposer | None, *, alpha: float = ALPHA,
                   on_trial: Callable[[Trial], None] = lambda _t: None) -> Outcome:
    splits = split_items(items, config.seed)
    meter = evaluator.meter
    meter.reserve(2 * len(splits.test))
    result = await Search(config, evaluator, proposer, on_trial).run(current_template, splits)
    meter.release()
    base_test = best_test = None
    try:
        base_test = await evaluator.trial(result.baseline.variant, splits.test, "test")
        on_trial(base_test)
        if result.best is result.baseline:
            decision = not_tested("no significant gain: no variant beat the current prompt on validation")
        else:
            best_test = await evaluator.trial(result.best.variant, splits.test, "test")
            on_trial(best_test)
            decision = decide(best_test.scores, base_test.scores, alpha=alpha, seed=config.seed)
    except BudgetExhausted as exc:
        decision = not_tested(f"no significant gain: the budget ran out before the held-out proof ({exc.reason})")
    front = tuple(pareto_front(result.trials, OBJECTIVES))
    return Outcome(splits, result, base_test, best_test, decision, front, meter.spent)
