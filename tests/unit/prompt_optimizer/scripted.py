"""A scripted, deterministic stand-in for the target and optimizer models (unit tests only)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.events.prompts import Budget
from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetMeter
from services.prompt_optimizer.domain.ports import Reply
from services.prompt_optimizer.domain.trials import Evaluator
from services.prompt_optimizer.domain.variants import Layout


def items(n: int = 40) -> list[DatasetItem]:
    return [DatasetItem(id=f"it-{i:03d}", input=f"review number {i}", expected="positive" if i % 2 else "negative")
            for i in range(n)]


@dataclass
class ScriptedTarget:
    """Right when `knows(template, item)` says so, else answers 'unsure'. Counts its calls."""

    knows: Callable[[str, DatasetItem], bool]
    calls: int = 0

    async def __call__(self, template: str, item: DatasetItem) -> Reply:
        self.calls += 1
        text = f" {item.expected}\n" if self.knows(template, item) else " unsure"
        return Reply(text, input_tokens=len(template.split()) + 3, output_tokens=2, latency_ms=10.0)


@dataclass
class ScriptedProposer:
    replies: Sequence[str]
    prompts: list[str] = field(default_factory=list)

    async def __call__(self, prompt: str, call_index: int) -> Reply:
        self.prompts.append(prompt)
        return Reply(self.replies[call_index % len(self.replies)], input_tokens=50, output_tokens=10)


def exact(output: str, item: DatasetItem) -> float:
    return float(output == item.expected)


def evaluator(target: ScriptedTarget, budget: Budget | None = None) -> Evaluator:
    ticks = itertools.count()
    meter = BudgetMeter(budget or Budget(), clock=lambda: float(next(ticks)) * 0.001)
    return Evaluator(target, exact, str.strip, meter, Layout())
