import itertools

import pytest

from schemas.candidate import ApiCost, CandidateSpec, Decoding, Engine
from schemas.events.prompts import Budget
from schemas.task import DatasetItem
from services.prompt_optimizer.domain.budget import BudgetExhausted, BudgetMeter
from services.prompt_optimizer.domain.config_search import search_configs
from services.prompt_optimizer.domain.configs import ConfigVariant, SpaceError, derive, expand
from services.prompt_optimizer.domain.halving import Obs, plan, schedule
from tests.unit.prompt_optimizer.scripted import items

BASE = CandidateSpec(name="smol", model="smollm2", task="sentiment", engine=Engine.openai,
                     endpoint="http://127.0.0.1:8301", decoding=Decoding(temperature=0.0, max_tokens=64),
                     cost=ApiCost(input_per_1m_usd=1.0, output_per_1m_usd=4.0))
SPACE = {"temperature": [0.0, 0.7, 1.2], "max_tokens": [4, 16],
         "postprocess": [{"name": "raw", "steps": []}, {"name": "strip", "steps": [{"op": "strip"}]}]}
# Known accuracies: the true best is t=0.7, max=16, strip; the default is mediocre.
TRUE = {(0.0, 64, "as-submitted"): 0.60, (0.7, 16, "strip"): 0.95}


def accuracy(v: ConfigVariant) -> float:
    fallback = 0.35 + 0.1 * (v.decoding.max_tokens == 16)
    return TRUE.get((v.decoding.temperature, v.decoding.max_tokens, v.post.name), fallback)


class ScriptedModel:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        self.calls += 1
        index = int(item.id.split("-")[1])
        right = (index * 37 + 11) % 100 < accuracy(v) * 100
        flaky = repeat > 0 and v.decoding.temperature > 1.0
        return Obs(float(right), "x" if flaky and repeat % 2 else str(right), 100.0 * v.decoding.max_tokens / 4,
                   input_tokens=20, output_tokens=v.decoding.max_tokens)


def meter(max_eval_calls: int) -> BudgetMeter:
    ticks = itertools.count()
    return BudgetMeter(Budget(max_eval_calls=max_eval_calls), clock=lambda: next(ticks) * 0.001)


async def test_successive_halving_keeps_the_true_best_within_budget() -> None:
    model = ScriptedModel()
    out = await search_configs(BASE, SPACE, items(100), model, meter(400))
    assert len(out.variants) == 13  # 12 combinations + the default as submitted
    assert model.calls == out.spent.eval_calls == out.halving.schedule.calls <= 400
    finalists = {a.variant.label() for a in out.halving.finalists}
    assert "t=0.7 p=1 max=16 stop=- post=strip ep=as-submitted" in finalists
    assert any(a.variant.is_default for a in out.halving.finalists)  # the paired control
    assert all(len(a.load_latencies) == 8 for a in out.halving.finalists)
    chosen = out.recommendation.chosen.arm.variant
    assert (chosen.decoding.temperature, chosen.decoding.max_tokens, chosen.post.name) == (0.7, 16, "strip")
    assert out.recommendation.comparison is not None and out.recommendation.comparison.verdict == "better"
    assert "significantly MORE accurate" in out.recommendation.reason
    assert out.recommendation.chosen in out.frontier


async def test_rungs_grow_items_and_shrink_arms() -> None:
    sched = schedule(13, 100, 6)
    assert sched.rung_items == (6, 12, 24, 48) and sched.rung_arms == (13, 7, 4, 2)
    assert sched.calls == 6 * 13 + 6 * 7 + 12 * 4 + 24 * 2 + 2 * (5 * 2 + 8)  # + stability and load tests
    assert plan(13, 100, 400).calls <= 400 < plan(13, 100, 10_000).calls


async def test_budget_too_small_for_the_space_is_refused_up_front() -> None:
    with pytest.raises(BudgetExhausted, match="13 variants need at least"):
        await search_configs(BASE, SPACE, items(100), ScriptedModel(), meter(20))


async def test_default_wins_when_nothing_beats_it_cheaper() -> None:
    space = {"max_tokens": [128, 256]}  # same accuracy, costlier than the default's 64 tokens
    out = await search_configs(BASE, space, items(60), ScriptedModel(), meter(400))
    assert out.recommendation.chosen.arm.variant.is_default and out.recommendation.comparison is None
    assert "default config is the recommendation" in out.recommendation.reason


def test_space_validation_and_derived_lineage() -> None:
    with pytest.raises(SpaceError, match="unknown space dimension"):
        expand(BASE, {"temprature": [0.1]})
    with pytest.raises(SpaceError, match="bad decoding value"):
        expand(BASE, {"temperature": [5.0]})
    with pytest.raises(SpaceError, match="endpoints.0: Input should be a valid dictionary"):
        expand(BASE, {"endpoints": ["http://x"]})
    variants = expand(BASE, {"endpoints": [{"name": "q8", "url": "http://127.0.0.1:9000", "quantization": "q8_0"}]})
    derived = derive(BASE, variants[1], "cand-1", "run/7")
    assert derived.parent_id == "cand-1" and str(derived.endpoint) == "http://127.0.0.1:9000/"
    assert derived.quantization == "q8_0" and derived.name == "smol-cs-run-7-c1"
    assert derived.tags["config_search_run"] == "run/7"


async def test_token_budget_stops_halving_midway_and_still_recommends() -> None:
    m = BudgetMeter(Budget(max_eval_calls=400, max_tokens=4_000), clock=itertools.count().__next__)
    out = await search_configs(BASE, SPACE, items(100), ScriptedModel(), m)
    assert out.halving.stopped.startswith("budget: token budget 4000")
    assert out.spent.tokens <= 4_000 and out.spent.eval_calls < out.halving.schedule.calls
    assert out.recommendation.chosen.finalist and out.recommendation.reason.startswith("policy:")
