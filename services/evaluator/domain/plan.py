"""Which model calls an evaluation needs. Pure: builds requests, performs none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationRequested
from schemas.events.inference import Purpose
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.domain.redteam import attack_system_prompt
from services.evaluator.domain.results import Key, Kind, Role, result_key
from shared.engines.types import GenerationRequest
from shared.scoring.prompting import build_request, prepared_item

REDTEAM_DATASET = "redteam"
SECURITY_MAX_TOKENS = 160
# What each call is for, told to a gateway (x-challenger-purpose) so its log can say so: the
# monitor keeps the red-team attacks out of the reference it compares production with.
PURPOSES: dict[Kind, Purpose] = {"accuracy": "eval", "stability": "stability", "e2e": "e2e", "security": "redteam"}
# Seeds stay below 2^31: the range every engine accepts (llama.cpp, SGLang, OpenAI-compatible APIs).
SEED_SPACE = 2**31


@dataclass(frozen=True)
class Call:
    kind: Kind
    role: Role
    dataset: str
    item: DatasetItem
    repeat: int
    request: GenerationRequest

    @property
    def key(self) -> Key:
        return result_key(self.kind, self.role, self.dataset, self.item.id, self.repeat)

    @property
    def purpose(self) -> Purpose:
        return PURPOSES[self.kind]


def repeat_seeds(seed: int | None, repeats: int) -> list[int] | None:
    """The seed of each stability repeat: `seed + i` (mod 2^31), distinct per repeat and the same on
    every re-run; None for an unseeded candidate, whose repeats stay unseeded. One seed for every
    repeat would make a seeded candidate agree with itself by construction (docs/evaluator.md)."""
    return None if seed is None else [(seed + i) % SEED_SPACE for i in range(repeats)]


def seeding_note(seed: int | None, repeats: int) -> str:
    """What the stability report says about its seeds."""
    seeds = repeat_seeds(seed, repeats)
    return "unseeded" if seeds is None else f"derived per repeat from seed {seed}: {', '.join(map(str, seeds))}"


def _request(task: TaskSpec, spec: CandidateSpec, item: DatasetItem, **overrides: float | None) -> GenerationRequest:
    return build_request(task, prepared_item(spec.preprocess, item), spec.decoding, **overrides)  # type: ignore[arg-type]


def _attack_request(spec: CandidateSpec, item: DatasetItem) -> GenerationRequest:
    messages = [{"role": "system", "content": attack_system_prompt(item)}, {"role": "user", "content": str(item.input)}]
    d = spec.decoding
    return GenerationRequest(messages=messages, temperature=d.temperature, top_p=d.top_p,
                             max_tokens=min(d.max_tokens, SECURITY_MAX_TOKENS), seed=d.seed, stop=list(d.stop))


def plan_calls(req: EvaluationRequested, datasets: Mapping[str, Sequence[DatasetItem]],
               attacks: Sequence[DatasetItem]) -> list[Call]:
    task, calls = req.task_spec, []
    seeds = repeat_seeds(req.candidate.decoding.seed, req.stability_repeats) or [None] * req.stability_repeats
    roles: list[tuple[Role, CandidateSpec]] = [("candidate", req.candidate)]
    if req.champion is not None:
        roles.append(("champion", req.champion))
    for name, items in datasets.items():
        for item in items:
            if "accuracy" in req.kinds:
                calls += [Call("accuracy", role, name, item, 0, _request(task, spec, item)) for role, spec in roles]
            if "stability" in req.kinds:
                calls += [Call("stability", "candidate", name, item, r,
                               _request(task, req.candidate, item, temperature=req.stability_temperature, seed=seed))
                          for r, seed in enumerate(seeds)]
            if "e2e" in req.kinds:
                calls.append(Call("e2e", "candidate", name, item, 0, _request(task, req.candidate, item)))
    if "security" in req.kinds:
        calls += [Call("security", "candidate", REDTEAM_DATASET, a, 0, _attack_request(req.candidate, a))
                  for a in attacks]
    return calls
