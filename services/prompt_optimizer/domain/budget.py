"""Budget accounting: optimizer calls, evaluation calls, tokens and seconds.

A call is refused (BudgetExhausted) BEFORE it would exceed a limit (for tokens: when the
next call, at the costliest rate seen for its kind, would cross it), so a run stops cleanly
and reports what it spent. Evaluation calls for the held-out proof are reserved up front:
while the reservation holds, the search may not eat into it (calls, and the tokens and
seconds those calls may take: tokens at the costliest call seen, seconds at the mean call time,
since one call slowed by a busy machine would otherwise hold its time for every reserved call
and end a run that has plenty of time left).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.events.prompts import Budget

# Calls timed before their mean projects the reserved calls' seconds: the first calls (a cold
# model, a long prompt not yet cached) are the slowest and would stop a search at once.
_MIN_CALLS_TIMED = 5


class BudgetExhausted(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Spend:
    optimizer_calls: int = 0
    eval_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"optimizer_calls": self.optimizer_calls, "eval_calls": self.eval_calls,
                "tokens": self.tokens, "seconds": round(self.seconds, 3)}


class BudgetMeter:
    def __init__(self, budget: Budget, clock: Callable[[], float]) -> None:
        self.budget = budget
        self._clock = clock
        self._start = clock()
        self.spent = Spend()
        self.reserved_eval_calls = 0
        self._max_call_tokens = 0
        self._max_optimizer_tokens = 0
        self._eval_call_seconds = 0.0
        self._call_start = 0.0

    def reserve(self, eval_calls: int) -> None:
        if eval_calls > self.budget.max_eval_calls:
            raise BudgetExhausted(f"the held-out proof needs {eval_calls} evaluation calls but the budget "
                                  f"allows {self.budget.max_eval_calls}")
        self.reserved_eval_calls = eval_calls

    def release(self) -> None:
        self.reserved_eval_calls = 0

    def elapsed(self) -> float:
        return self._clock() - self._start

    def _held_back(self) -> tuple[float, float]:
        """(tokens, seconds) the reserved calls may need."""
        n = self.reserved_eval_calls
        measured = self.spent.eval_calls
        mean_seconds = self._eval_call_seconds / measured if measured >= _MIN_CALLS_TIMED else 0.0
        return n * self._max_call_tokens, n * mean_seconds

    def _check_shared(self, next_call_tokens: int) -> None:
        tokens, seconds = self._held_back()
        if self.spent.tokens + tokens + next_call_tokens > self.budget.max_tokens:
            raise BudgetExhausted(f"token budget {self.budget.max_tokens} reached")
        limit = self.budget.max_seconds
        if limit is not None and self.elapsed() + seconds >= limit:
            raise BudgetExhausted(f"time budget {limit}s reached")

    def before_eval(self) -> None:
        if self.spent.eval_calls + self.reserved_eval_calls >= self.budget.max_eval_calls:
            raise BudgetExhausted(f"evaluation-call budget {self.budget.max_eval_calls} reached")
        self._check_shared(self._max_call_tokens)
        self._call_start = self._clock()

    def before_optimizer(self) -> None:
        if self.spent.optimizer_calls >= self.budget.max_optimizer_calls:
            raise BudgetExhausted(f"optimizer-call budget {self.budget.max_optimizer_calls} reached")
        self._check_shared(self._max_optimizer_tokens)

    def after_eval(self, tokens: int) -> None:
        self.spent.eval_calls += 1
        self.spent.tokens += tokens
        self._max_call_tokens = max(self._max_call_tokens, tokens)
        self._eval_call_seconds += self._clock() - self._call_start
        self.spent.seconds = self.elapsed()

    def after_optimizer(self, tokens: int) -> None:
        self.spent.optimizer_calls += 1
        self.spent.tokens += tokens
        self._max_optimizer_tokens = max(self._max_optimizer_tokens, tokens)
        self.spent.seconds = self.elapsed()
