"""Route tables the deployer asks the gateway to apply: staged, canary, sole and fallback.

Every target carries its serving profile: the prompt (the task as this candidate runs it,
resolved by the registry with its prompt version), decoding and processing steps the
evaluator used, so the gateway serves the candidate exactly as it was evaluated."""

from __future__ import annotations

from schemas.candidate import CandidateSpec
from schemas.events.deployments import RouteTable, RouteTarget, ServingProfile
from schemas.task import TaskSpec
from shared.pipeline import prod_route, staging_route  # noqa: F401  (the pipeline's route names, for the driver)


def serving_url(spec: CandidateSpec) -> str:
    if spec.endpoint is not None:
        return str(spec.endpoint).rstrip("/")
    assert spec.launch is not None  # the spec validator guarantees endpoint or launch
    return f"http://127.0.0.1:{spec.launch.port}"


def serving_profile(spec: CandidateSpec, task: TaskSpec | None) -> ServingProfile:
    """How the evaluator called this candidate; without a task spec, the client's text is the prompt."""
    prompt = task.model_dump(include={"prompt_template", "prompt_style", "system_prompt"}) if task else {}
    return ServingProfile(**prompt, decoding=spec.decoding, preprocess=spec.preprocess, postprocess=spec.postprocess)


def target(candidate_id: str, spec: CandidateSpec, task: TaskSpec | None = None, weight: float = 1.0) -> RouteTarget:
    prompt_version = task.prompt_version if task else spec.prompt_version
    return RouteTarget(candidate_id=candidate_id, url=serving_url(spec), model=spec.model, weight=weight,
                       api_key_env=spec.api_key_env, prompt_version=prompt_version, serving=serving_profile(spec, task))


def through_gateway(task: TaskSpec) -> TaskSpec:
    """The task as a client of the gateway sends it: the raw input, for the route's target
    applies the prompt itself (so a staging evaluation does not apply it twice)."""
    return task.model_copy(update={"prompt_template": "{input}", "prompt_style": "chat", "system_prompt": None})


def sole(route: str, main: RouteTarget, fallback: RouteTarget | None = None) -> RouteTable:
    return RouteTable(route=route, targets=[main.model_copy(update={"weight": 1.0})],
                      fallbacks=[fallback.model_copy(update={"weight": 1.0})] if fallback else [])


def canary(route: str, champion: RouteTarget, candidate: RouteTarget, weight_pct: float) -> RouteTable:
    """Candidate at `weight_pct`, champion at the rest and as the fallback."""
    if weight_pct >= 100:
        return sole(route, candidate, champion)
    if weight_pct <= 0:
        return sole(route, champion)
    return RouteTable(route=route, sticky_key="x-user-id",
                      targets=[champion.model_copy(update={"weight": 100.0 - weight_pct}),
                               candidate.model_copy(update={"weight": weight_pct})],
                      fallbacks=[champion.model_copy(update={"weight": 1.0})])


def fallback_table(table: RouteTable, failing_id: str) -> tuple[RouteTable, RouteTarget] | None:
    """The table with the failing candidate replaced by its fallback as sole target, keeping the
    rest of the route's settings; None when the route has nothing else to fall back to."""
    options = [t for t in table.fallbacks if t.candidate_id != failing_id] \
        or [t for t in table.targets if t.candidate_id != failing_id]
    if not options:
        return None
    chosen = options[0].model_copy(update={"weight": 1.0})
    rest = [t for t in table.fallbacks if t.candidate_id not in (failing_id, chosen.candidate_id)]
    new = table.model_copy(update={"targets": [chosen], "fallbacks": rest,
                                   "shadows": [s for s in table.shadows if s.candidate_id != failing_id]})
    return new, chosen


def without_fallback(table: RouteTable, candidate_id: str) -> RouteTable | None:
    """The table without `candidate_id` among its fallbacks; None when it is not one."""
    kept = [t for t in table.fallbacks if t.candidate_id != candidate_id]
    return None if len(kept) == len(table.fallbacks) else table.model_copy(update={"fallbacks": kept})
