"""Successive halving over configuration variants (Jamieson & Talwalkar, 2016).

Rung r scores every surviving variant on the first n_r = n_0 * eta^r items of the dev set
(only the items it has not seen yet), then keeps the best 1/eta by accuracy (fewer tokens
per call, then lower p95 latency, break ties). The `default` variant always survives as the
paired control. The finalists get stability repeats on a few items and a short load test (a few calls at a small
concurrency, for p95 latency under load). The whole schedule is planned up front to fit the
evaluation-call budget, and the budget meter enforces it call by call.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetExhausted, BudgetMeter
from services.prompt_optimizer.domain.configs import ConfigVariant


@dataclass(frozen=True)
class Obs:
    score: float
    answer: str  # what counts as "the same answer" across repeats
    latency_ms: float
    input_tokens: int
    output_tokens: int


# One call of the model under `variant` on `item`; `repeat` > 0 for stability repeats.
Measure = Callable[[ConfigVariant, DatasetItem, int], Awaitable[Obs]]


@dataclass
class Arm:
    variant: ConfigVariant
    item_scores: dict[str, float] = field(default_factory=dict)  # item id -> score, first runs only
    item_calls: dict[str, Obs] = field(default_factory=dict)  # item id -> that first call (its cost, paired)
    latencies: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    answers: dict[str, list[str]] = field(default_factory=dict)
    load_latencies: list[float] = field(default_factory=list)
    rung: int = -1

    @property
    def scores(self) -> list[float]:
        return list(self.item_scores.values())

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.scores)) if self.scores else 0.0

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies, 95)) if self.latencies else math.inf

    @property
    def tokens_per_call(self) -> float:
        return (self.input_tokens + self.output_tokens) / len(self.latencies) if self.latencies else math.inf

    @property
    def p95_load_ms(self) -> float | None:
        return float(np.percentile(self.load_latencies, 95)) if self.load_latencies else None

    @property
    def stability(self) -> float | None:
        """Mean share of repeats agreeing with the item's modal answer (None without repeats)."""
        groups = [a for a in self.answers.values() if len(a) > 1]
        if not groups:
            return None
        return float(np.mean([Counter(a).most_common(1)[0][1] / len(a) for a in groups]))

    def record(self, item: DatasetItem, obs: Obs, *, repeat: bool) -> None:
        if not repeat:
            self.item_scores[item.id] = obs.score
            self.item_calls[item.id] = obs
        self.latencies.append(obs.latency_ms)
        self.answers.setdefault(item.id, []).append(obs.answer)
        self.input_tokens += obs.input_tokens
        self.output_tokens += obs.output_tokens


@dataclass(frozen=True)
class Schedule:
    rung_items: tuple[int, ...]
    rung_arms: tuple[int, ...]
    repeats: int
    stability_items: int
    load_calls: int = 8
    load_concurrency: int = 4

    @property
    def calls(self) -> int:
        prev, total = 0, 0
        for n, arms in zip(self.rung_items, self.rung_arms, strict=True):
            total += (n - prev) * arms
            prev = n
        return total + self.rung_arms[-1] * (self.stability_items * (self.repeats - 1) + self.load_calls)


def _survivors(n: int, eta: int) -> int:
    return max(2, math.ceil(n / eta)) if n > 2 else n


def schedule(n_variants: int, n_items: int, n0: int, *, eta: int = 2, repeats: int = 3,
             stability_items: int = 5) -> Schedule:
    items, arms = [min(n0, n_items)], [n_variants]
    while arms[-1] > 2 and items[-1] < n_items:
        items.append(min(n_items, items[-1] * eta))
        arms.append(_survivors(arms[-1], eta))
    return Schedule(tuple(items), tuple(arms), repeats, min(stability_items, items[-1]))


def plan(n_variants: int, n_items: int, max_calls: int, *, eta: int = 2, repeats: int = 3,
         stability_items: int = 5) -> Schedule:
    """The schedule with the largest first rung that fits `max_calls`."""
    best = None
    for n0 in range(1, n_items + 1):
        s = schedule(n_variants, n_items, n0, eta=eta, repeats=repeats, stability_items=stability_items)
        if s.calls <= max_calls:
            best = s
    if best is None:
        raise BudgetExhausted(f"{n_variants} variants need at least "
                              f"{schedule(n_variants, n_items, 1, eta=eta, repeats=repeats).calls} evaluation calls; "
                              f"the budget allows {max_calls}")
    return best


@dataclass
class HalvingResult:
    arms: list[Arm]
    schedule: Schedule
    stopped: str

    @property
    def finalists(self) -> list[Arm]:
        top = max(a.rung for a in self.arms)
        return [a for a in self.arms if a.rung == top]

    @property
    def default(self) -> Arm:
        return next(a for a in self.arms if a.variant.is_default)


def _rank(arms: Sequence[Arm]) -> list[Arm]:
    """Best accuracy first; ties go to fewer tokens per call (deterministic, unlike latency on a
    busy machine), then to lower p95 latency."""
    return sorted(arms, key=lambda a: (-a.accuracy, a.tokens_per_call, a.p95_ms))


@dataclass
class Halving:
    measure: Measure
    meter: BudgetMeter
    on_rung: Callable[[int, list[Arm]], None] = lambda _r, _a: None
    _forward: bool = field(default=False, init=False)

    async def run(self, variants: Sequence[ConfigVariant], items: Sequence[DatasetItem], sched: Schedule,
                  eta: int = 2) -> HalvingResult:
        """Calls are interleaved (item by item across the surviving variants, batch by batch in the
        load test), so a slow spell of a busy machine hits every variant alike, not one block."""
        arms = [Arm(v) for v in variants]
        alive, seen, stopped = list(arms), 0, "schedule complete"
        try:
            for rung, n in enumerate(sched.rung_items):
                for arm in alive:
                    arm.rung = rung
                await self._score(alive, items[seen:n])
                seen = n
                self.on_rung(rung, alive)
                if rung + 1 < len(sched.rung_items):
                    alive = self._keep(alive, sched.rung_arms[rung + 1])
            for r in range(1, sched.repeats):
                await self._score(alive, items[:sched.stability_items], r)
            await self._load(alive, items, sched)
        except BudgetExhausted as exc:
            stopped = f"budget: {exc.reason}"
        return HalvingResult(arms, sched, stopped)

    @staticmethod
    def _keep(alive: list[Arm], k: int) -> list[Arm]:
        ranked = _rank(alive)
        keep = ranked[:k]
        default = next((a for a in alive if a.variant.is_default), None)
        if default is not None and default not in keep:
            keep = ranked[:k - 1] + [default] if k > 1 else keep + [default]
        return keep

    async def _score(self, arms: Sequence[Arm], items: Sequence[DatasetItem], repeat: int = 0) -> None:
        """Every arm on every item, in a diagonal order: in round o arm j takes item (o + j + repeat)
        mod n, and each round runs the arms the other way round from the last. Each arm's calls are
        spread over the whole rung, and no two consecutive calls send the same prompt (an engine's
        prompt cache would make the second one look fast and cheap)."""
        n = len(items)
        for o in range(n):
            order = list(enumerate(arms))
            self._forward = not self._forward
            for j, arm in order if self._forward else reversed(order):
                item = items[(o + j + repeat) % n]
                self.meter.before_eval()
                obs = await self.measure(arm.variant, item, repeat)
                self.meter.after_eval(obs.input_tokens + obs.output_tokens)
                arm.record(item, obs, repeat=repeat > 0)

    async def _load(self, arms: Sequence[Arm], items: Sequence[DatasetItem], sched: Schedule) -> None:
        """`load_calls` calls per arm, `load_concurrency` at a time, batch by batch across the arms
        (each arm shifted by one item, so no batch repeats the prompts of the one before); only
        their latencies count."""
        for start in range(0, sched.load_calls, sched.load_concurrency):
            size = min(sched.load_concurrency, sched.load_calls - start)
            for j, arm in enumerate(arms):
                batch = [items[(start + k + j) % len(items)] for k in range(size)]
                for _ in batch:
                    self.meter.before_eval()
                observed = await asyncio.gather(*(self.measure(arm.variant, item, 1_000 + start + k)
                                                  for k, item in enumerate(batch)))
                for obs in observed:  # tokens stay with the calls whose latencies `latencies` holds (cost = tokens/s)
                    self.meter.after_eval(obs.input_tokens + obs.output_tokens)
                    arm.load_latencies.append(obs.latency_ms)
