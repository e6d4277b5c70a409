"""One configuration search, start to end: expand the space, plan successive halving within
the budget, run it, summarize, compute the frontier and recommend."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.candidate import ApiCost, CandidateSpec, GpuCost
from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetMeter, Spend
from services.prompt_optimizer.domain.configs import ConfigVariant, expand
from services.prompt_optimizer.domain.halving import Arm, Halving, HalvingResult, Measure, Obs, plan
from services.prompt_optimizer.domain.recommend import Recommendation, Summary, frontier, recommend, summarize


def cost_per_million(spec: CandidateSpec, latency_ms: float, input_tokens: int, output_tokens: int) -> float | None:
    """$/1M tokens of calls that took `latency_ms` in all: API price tables, or GPU $/hour over
    the measured single-stream token rate; None without a cost model."""
    tokens = input_tokens + output_tokens
    cost = spec.cost
    if isinstance(cost, ApiCost) and tokens:
        return (cost.input_per_1m_usd * input_tokens + cost.output_per_1m_usd * output_tokens) / tokens
    if isinstance(cost, GpuCost) and tokens and latency_ms > 0:
        per_hour = tokens / (latency_ms / 1000) * 3600
        return cost.gpu_hourly_usd / per_hour * 1e6
    return None


def arm_cost(spec: CandidateSpec, arm: Arm) -> float | None:
    return cost_per_million(spec, sum(arm.latencies), arm.input_tokens, arm.output_tokens)


def call_cost(spec: CandidateSpec, obs: Obs) -> float:
    """One call's cost, for the paired cost test: $/1M tokens, else its tokens."""
    price = cost_per_million(spec, obs.latency_ms, obs.input_tokens, obs.output_tokens)
    return price if price is not None else float(obs.input_tokens + obs.output_tokens)


@dataclass(frozen=True)
class SearchSettings:
    eta: int = 2
    repeats: int = 3
    stability_items: int = 5
    tolerance: float = 0.01
    alpha: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class ConfigOutcome:
    variants: list[ConfigVariant]
    halving: HalvingResult
    summaries: list[Summary]
    frontier: list[Summary]
    recommendation: Recommendation
    spent: Spend
    cost_unit: str


async def search_configs(base: CandidateSpec, space: Mapping[str, Sequence[Any]], items: Sequence[DatasetItem],
                         measure: Measure, meter: BudgetMeter, settings: SearchSettings = SearchSettings(),
                         on_rung: Callable[[int, list[Arm]], None] = lambda _r, _a: None) -> ConfigOutcome:
    variants = expand(base, space)
    dev = sorted(items, key=lambda i: i.id)
    random.Random(settings.seed).shuffle(dev)
    sched = plan(len(variants), len(dev), meter.budget.max_eval_calls, eta=settings.eta,
                 repeats=settings.repeats, stability_items=settings.stability_items)
    result = await Halving(measure, meter, on_rung).run(variants, dev, sched)
    finalists = result.finalists
    summaries = [summarize(a, lambda arm: arm_cost(base, arm), a in finalists) for a in result.arms if a.scores]
    rec = recommend(result, summaries, lambda obs: call_cost(base, obs), tolerance=settings.tolerance,
                    alpha=settings.alpha)
    unit = "$/1M tokens" if base.cost is not None else "tokens per call"
    return ConfigOutcome(variants, result, summaries, frontier(summaries), rec, meter.spent, unit)
