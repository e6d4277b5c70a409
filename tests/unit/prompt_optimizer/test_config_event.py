"""The `config_search.completed` event: every evaluated variant with its derived spec, lineage,
figures and marks; the recommendation is one of them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from schemas.candidate import GpuCost
from schemas.events.prompts import ConfigSearchCompleted, ConfigSearchRequested, SearchSpace
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.domain.config_event import to_event
from services.prompt_optimizer.domain.config_search import search_configs
from services.prompt_optimizer.domain.configs import ConfigVariant, SpaceError, expand
from services.prompt_optimizer.domain.halving import Obs
from tests.unit.prompt_optimizer.scripted import items
from tests.unit.prompt_optimizer.test_config_search import BASE, SPACE, ScriptedModel, meter


def request(run_id: str = "cs-run-1") -> ConfigSearchRequested:
    return ConfigSearchRequested(run_id=run_id, candidate_id="cand-base", candidate=BASE,
                                 task_spec=TaskSpec(name="sentiment"), space=SPACE)


async def completed() -> ConfigSearchCompleted:
    outcome = await search_configs(BASE, SPACE, items(100), ScriptedModel(), meter(400))
    return to_event(request(), outcome, Path("/tmp/reports/configs/cs-run-1/index.html"))


async def test_every_evaluated_variant_is_in_the_event_with_its_lineage() -> None:
    event = await completed()
    assert event.status == "completed" and len(event.variants) == 13
    derived = [v for v in event.variants if not v.is_default]
    assert {v.spec.parent_id for v in derived} == {"cand-base"}
    assert all(v.spec.tags["config_search_run"] == "cs-run-1" and v.spec.tags["variant"] == v.variant
               and v.spec.tags["derived_by"] == "config_search" for v in derived)
    assert len({v.spec.name for v in derived}) == 12  # one name per variant
    default = next(v for v in event.variants if v.is_default)
    assert default.spec == BASE and default.spec.parent_id is None


async def test_figures_marks_and_the_recommendation_agree() -> None:
    event = await completed()
    (chosen,) = [v for v in event.variants if v.recommended]
    assert event.recommended_variant == chosen.variant and event.recommended == chosen.spec
    assert (chosen.spec.decoding.temperature, chosen.spec.decoding.max_tokens) == (0.7, 16)
    assert [s.op for s in chosen.spec.postprocess] == ["strip"]
    assert chosen.frontier and chosen.finalist and chosen.stability is not None
    assert all(v.finalist for v in event.variants if v.frontier)
    finalists = [v for v in event.variants if v.finalist]
    assert {v.rung for v in finalists} == {max(v.rung for v in event.variants)}
    assert all(v.n > max(d.n for d in event.variants if not d.finalist) for v in finalists)  # more items survive
    assert all(v.ci_low <= v.accuracy <= v.ci_high and v.p95_ms > 0 and v.cost > 0 for v in event.variants)
    assert event.cost_unit == "$/1M tokens" and event.spent["eval_calls"] <= 400
    assert event.frontier == []  # the untyped rows are no longer filled


async def test_event_round_trips_as_json() -> None:
    event = await completed()
    again = ConfigSearchCompleted.model_validate_json(event.model_dump_json())
    assert again == event


async def test_default_recommendation_has_no_derived_spec() -> None:
    space = {"max_tokens": [128, 256]}
    outcome = await search_configs(BASE, space, items(60), ScriptedModel(), meter(400))
    req = request().model_copy(update={"space": space})
    event = to_event(req, outcome, Path("/tmp/r/index.html"))
    assert event.recommended is None and event.recommended_variant == "default"


@pytest.mark.parametrize(("space", "message"), [
    ({"temprature": [0.1]}, "unknown space dimension(s) ['temprature']"),
    ({"temperature": [5.0]}, "temperature: bad decoding value 5.0"),
    ({"temperature": []}, "temperature: List should have at least 1 item"),
    ({"endpoints": ["http://x"]}, "endpoints.0: Input should be a valid dictionary"),
    ({"postprocess": [{"name": "p", "steps": [{"op": "shout"}]}]}, "postprocess.0.steps.0.op"),
])
def test_bad_spaces_are_refused_with_the_field_and_reason(space: dict[str, object], message: str) -> None:
    with pytest.raises(SpaceError) as err:
        expand(BASE, space)
    assert message in str(err.value)


def test_the_space_contract_accepts_bare_step_lists_and_dumps_back_to_event_data() -> None:
    space = SearchSpace.model_validate({"max_tokens": [4, 48], "postprocess": [[], [{"op": "strip"}]]})
    assert [p.name for p in space.postprocess or []] == ["post0", "post1"]
    assert space.as_event_space() == {"max_tokens": [4, 48], "postprocess": [
        {"name": "post0", "steps": []}, {"name": "post1", "steps": [{"op": "strip", "args": {}}]}]}
    assert len(expand(BASE, space.as_event_space())) == 5


class EqualButFlakyWhenHot(ScriptedModel):
    """Every variant equally accurate; fewer max tokens are cheaper; temperature > 1 flips repeats."""

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        obs = await super().__call__(v, item, 0)
        right = int(item.id.split("-")[1]) % 5 != 0
        flaky = repeat > 0 and v.decoding.temperature > 1.0 and repeat % 2
        return Obs(float(right), "x" if flaky else str(right), obs.latency_ms, obs.input_tokens, obs.output_tokens)


async def test_a_cheaper_but_less_stable_config_is_not_recommended() -> None:
    out = await search_configs(BASE, {"temperature": [1.2, 0.0], "max_tokens": [4]}, items(60),
                               EqualButFlakyWhenHot(), meter(400))
    chosen = out.recommendation.chosen.arm.variant
    assert (chosen.decoding.temperature, chosen.decoding.max_tokens) == (0.0, 4)
    hot = await search_configs(BASE, {"temperature": [1.2], "max_tokens": [4]}, items(60), EqualButFlakyWhenHot(),
                               meter(400))
    assert hot.recommendation.chosen.arm.variant.is_default
    assert "no less stable than the default" in hot.recommendation.reason


class Recorder(ScriptedModel):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, str, int]] = []

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        self.order.append((v.id, item.id, repeat))
        return await super().__call__(v, item, repeat)


async def test_calls_are_interleaved_and_never_repeat_a_prompt_back_to_back() -> None:
    model = Recorder()
    out = await search_configs(BASE, SPACE, items(100), model, meter(400))
    scored = [(v, i) for v, i, r in model.order if r < 1_000]  # rungs and stability repeats
    assert all(a[1] != b[1] for a, b in zip(scored, scored[1:], strict=False))  # an engine cache gets no free hit
    first_rung = out.halving.schedule.rung_items[0]
    assert [v for v, _ in scored[:13]] == [a.variant.id for a in out.halving.arms]  # round 0: every arm once
    for arm in out.halving.arms:  # each arm saw each item of its rungs once, paired by item id
        assert len(arm.item_scores) == len(arm.scores) >= first_rung
    default = out.halving.default
    assert set(out.recommendation.chosen.arm.item_scores) <= set(default.item_scores)


class SameCallsNoisyClock(ScriptedModel):
    """Every variant makes the same call (same answer, same tokens); the latency is noise, the
    default's a little slower on average (10 ms in 100-400 ms)."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(3)

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        self.calls += 1
        right = int(item.id.split("-")[1]) % 4 != 0
        slower = 10.0 if v.is_default else 0.0
        return Obs(float(right), str(right), self.rng.uniform(100, 400) + slower, input_tokens=50, output_tokens=1)


async def test_a_cost_edge_inside_the_noise_does_not_replace_the_default() -> None:
    gpu = BASE.model_copy(update={"cost": GpuCost(gpu_hourly_usd=0.35)})
    out = await search_configs(gpu, {"max_tokens": [2, 16, 32]}, items(60), SameCallsNoisyClock(), meter(400))
    assert out.recommendation.chosen.arm.variant.is_default
    assert "The default config stays" in out.recommendation.reason
    assert "NOT significantly lower per call" in out.recommendation.reason
