"""Scoring one prompt variant on one split: every item through the target model, the
candidate's post-processing and the task metric, under the budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetMeter
from services.prompt_optimizer.domain.ports import Post, Scorer, Target
from services.prompt_optimizer.domain.variants import Layout, PromptVariant


@dataclass(frozen=True)
class Trial:
    variant: PromptVariant
    template: str
    split: str
    scores: tuple[float, ...]
    input_tokens: float  # mean prompt tokens per item: the cost objective
    latency_ms: float  # mean per item

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class Evaluator:
    target: Target
    scorer: Scorer
    post: Post
    meter: BudgetMeter
    layout: Layout

    async def trial(self, variant: PromptVariant, items: Sequence[DatasetItem], split: str) -> Trial:
        template = variant.template(self.layout)
        scores: list[float] = []
        tokens = latency = 0.0
        for item in items:
            self.meter.before_eval()
            reply = await self.target(template, item)
            self.meter.after_eval(reply.tokens)
            scores.append(float(self.scorer(self.post(reply.text), item)))
            tokens += reply.input_tokens
            latency += reply.latency_ms
        n = max(1, len(items))
        return Trial(variant, template, split, tuple(scores), tokens / n, latency / n)
