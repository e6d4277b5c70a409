"""Stability repeats of a seeded candidate run with distinct seeds (seed + i): one seed for
every repeat made any seeded candidate agree with itself by construction. The report says
which seeds ran."""

from schemas.candidate import CandidateSpec, Decoding
from schemas.events.evaluations import EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.domain.plan import SEED_SPACE, plan_calls, repeat_seeds, seeding_note
from services.evaluator.domain.results import ItemResult
from services.evaluator.domain.scorecard import build_completed

TASK = TaskSpec(name="t", metric="exact_match")
ITEMS = {"d": [DatasetItem(id=str(i), input=f"q{i}", expected="a") for i in range(3)]}


def _req(seed: int | None, repeats: int = 4) -> EvaluationRequested:
    spec = CandidateSpec(name="c", model="m", task="t", engine="openai", endpoint="http://127.0.0.1:1",
                         decoding=Decoding(temperature=0.0, seed=seed))
    return EvaluationRequested(evaluation_id="e", candidate_id="c", task="t", candidate=spec, task_spec=TASK,
                               kinds=["accuracy", "stability"], stability_repeats=repeats)


def test_each_repeat_of_a_seeded_candidate_has_its_own_seed():
    calls = plan_calls(_req(seed=7), ITEMS, [])
    for item in ITEMS["d"]:
        mine = sorted((c.repeat, c.request.seed) for c in calls if c.kind == "stability" and c.item.id == item.id)
        assert mine == [(0, 7), (1, 8), (2, 9), (3, 10)]
    assert {c.request.seed for c in calls if c.kind == "accuracy"} == {7}  # the served config, as declared
    assert {c.request.temperature for c in calls if c.kind == "stability"} == {0.7}


def test_an_unseeded_candidate_stays_unseeded():
    calls = plan_calls(_req(seed=None), ITEMS, [])
    assert {c.request.seed for c in calls} == {None}
    assert repeat_seeds(None, 3) is None and seeding_note(None, 3) == "unseeded"


def test_derived_seeds_are_distinct_reproducible_and_in_every_engines_range():
    for seed in (0, 7, SEED_SPACE - 2, -1, 2**40):
        seeds = repeat_seeds(seed, 50)
        assert seeds is not None and len(set(seeds)) == 50 and all(0 <= s < SEED_SPACE for s in seeds)
        assert seeds == repeat_seeds(seed, 50)


def test_the_stability_report_says_which_seeds_ran():
    req = _req(seed=7, repeats=3)
    rows = [ItemResult("stability", "candidate", "d", i.id, r, output="a", score=1.0) for i in ITEMS["d"]
            for r in range(3)]
    s = build_completed(req, ITEMS, [], rows, n_boot=50).stability
    assert s is not None and s.seeds == [7, 8, 9]
    assert s.seeding == "derived per repeat from seed 7: 7, 8, 9"
    unseeded = build_completed(_req(seed=None, repeats=3), ITEMS, [], rows, n_boot=50).stability
    assert unseeded is not None and unseeded.seeds is None and unseeded.seeding == "unseeded"
