"""The search loop. Round 0 scores the current prompt on validation; every later round
proposes new variants and scores them on validation:

- instruction: the optimizer model reads the OPRO meta-prompt and writes new instructions;
- fewshot: label-balanced demonstration sets drawn from the train split;
- combined: both, each built on the best variant so far (new instructions keep the best
  demos, new demos keep the best instruction).

The loop stops after `max_rounds` or at the first budget limit, and keeps what it scored.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from services.prompt_optimizer.domain.budget import BudgetExhausted, BudgetMeter
from services.prompt_optimizer.domain.fewshot import sample_demos
from services.prompt_optimizer.domain.opro import meta_prompt, normalized, parse_instruction
from services.prompt_optimizer.domain.ports import Proposer
from services.prompt_optimizer.domain.splits import Splits
from services.prompt_optimizer.domain.trials import Evaluator, Trial
from services.prompt_optimizer.domain.variants import PromptVariant, baseline_variant

Strategy = Literal["instruction", "fewshot", "combined"]


@dataclass(frozen=True)
class SearchConfig:
    strategy: Strategy = "combined"
    max_rounds: int = 3
    per_round: int = 2
    shots: int = 4
    seed: int = 0
    examples_in_meta: int = 3


@dataclass
class SearchResult:
    trials: list[Trial]
    stopped: str
    rounds: int

    @property
    def baseline(self) -> Trial:
        return self.trials[0]

    @property
    def best(self) -> Trial:
        """Highest validation score; fewer prompt tokens break ties; the current prompt wins a full tie."""
        return max(self.trials, key=lambda t: (t.mean, -t.input_tokens) if t is not self.baseline
                   else (t.mean, float("inf")))


@dataclass
class Search:
    config: SearchConfig
    evaluator: Evaluator
    proposer: Proposer | None
    on_trial: Callable[[Trial], None] = lambda _t: None
    trials: list[Trial] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _calls: int = 0

    @property
    def meter(self) -> BudgetMeter:
        return self.evaluator.meter

    async def run(self, baseline_template: str, splits: Splits) -> SearchResult:
        if self.config.strategy != "fewshot" and self.proposer is None:
            raise ValueError(f"strategy {self.config.strategy!r} needs an optimizer model")
        await self._score(baseline_variant(baseline_template), splits)
        self._seen.add(normalized(self.trials[0].variant.instruction))
        rounds, stopped = 0, "max_rounds"
        try:
            for rounds in range(1, self.config.max_rounds + 1):
                for variant in await self._propose(rounds, splits):
                    await self._score(variant, splits)
        except BudgetExhausted as exc:
            stopped = f"budget: {exc.reason}"
        return SearchResult(self.trials, stopped, rounds)

    async def _score(self, variant: PromptVariant, splits: Splits) -> None:
        trial = await self.evaluator.trial(variant, splits.validation, "validation")
        self.trials.append(trial)
        self.on_trial(trial)

    def _best(self) -> PromptVariant:
        return SearchResult(self.trials, "", 0).best.variant

    async def _propose(self, round_: int, splits: Splits) -> list[PromptVariant]:
        best = self._best()
        made: list[PromptVariant] = []
        if self.config.strategy in ("instruction", "combined"):
            demos = best.demos if self.config.strategy == "combined" else ()
            for text in await self._instructions(round_, splits):
                made.append(PromptVariant("", text, demos, "opro", round_))
        if self.config.strategy in ("fewshot", "combined"):
            for j in range(self.config.per_round):
                rng = random.Random(self.config.seed * 100_003 + round_ * 101 + j)
                demos = sample_demos(splits.train, self.config.shots, rng)
                made.append(PromptVariant("", best.instruction, demos, "fewshot", round_))
        return [PromptVariant(f"v{len(self.trials) + k}", v.instruction, v.demos, v.origin, v.round)
                for k, v in enumerate(made)]

    async def _instructions(self, round_: int, splits: Splits) -> list[str]:
        assert self.proposer is not None
        history = [(t.variant.instruction, t.mean) for t in self.trials]
        rng = random.Random(self.config.seed * 7919 + round_)
        examples = sample_demos(splits.train, self.config.examples_in_meta, rng)
        prompt = meta_prompt(self.trials[0].variant.instruction, history, examples)
        found: list[str] = []
        for _ in range(self.config.per_round):
            self.meter.before_optimizer()
            reply = await self.proposer(prompt, self._calls)
            self._calls += 1
            self.meter.after_optimizer(reply.tokens)
            text = parse_instruction(reply.text)
            if text is not None and normalized(text) not in self._seen:
                self._seen.add(normalized(text))
                found.append(text)
        return found
