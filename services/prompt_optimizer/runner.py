"""One optimization run from a `prompt_optimization.requested` payload to a `prompt.optimized`
payload: wire the real engines into the pure domain, write the report, derive the candidate.
The service handler and `challenger optimize` both call `run_optimization`."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from pathlib import Path

from schemas.candidate import CandidateSpec, Decoding, ProcessingStep
from schemas.events.prompts import PromptOptimizationRequested, PromptOptimized
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.adapters.models import EngineProposer, EngineTarget
from services.prompt_optimizer.adapters.report import write_report
from services.prompt_optimizer.domain.budget import BudgetMeter
from services.prompt_optimizer.domain.optimize import Outcome, optimize
from services.prompt_optimizer.domain.search import SearchConfig
from services.prompt_optimizer.domain.style import PROBE_ITEMS, style_for
from services.prompt_optimizer.domain.trials import Evaluator, Trial
from services.prompt_optimizer.domain.variants import Layout
from shared.engines import EngineClient, client_for_spec
from shared.processing import postprocess
from shared.scoring.metrics import score
from shared.scoring.prompting import build_request


def search_config(req: PromptOptimizationRequested) -> SearchConfig:
    return SearchConfig(strategy=req.strategy, max_rounds=req.max_rounds, per_round=req.candidates_per_round,
                        shots=req.shots, seed=req.seed)


def derived_spec(parent: CandidateSpec, candidate_id: str, run_id: str) -> CandidateSpec:
    suffix = re.sub(r"[^A-Za-z0-9]", "", run_id)[:12] or "run"
    return parent.model_copy(update={
        "name": f"{parent.name[:100]}-po-{suffix}", "parent_id": candidate_id, "prompt_version": None,
        "tags": {**parent.tags, "derived_by": "prompt_optimizer", "prompt_optimization_run": run_id}})


def _pareto_row(t: Trial) -> dict[str, float | int | str]:
    return {"variant": t.variant.id, "origin": t.variant.origin, "round": t.variant.round,
            "validation_score": round(t.mean, 4), "prompt_tokens": round(t.input_tokens, 1),
            "latency_ms": round(t.latency_ms, 1)}


def to_event(req: PromptOptimizationRequested, outcome: Outcome, report: Path,
             style: str | None = None) -> PromptOptimized:
    c = outcome.decision.comparison
    base = outcome.baseline_test or outcome.search.baseline
    best = outcome.best_test or outcome.best
    accepted = outcome.promoted
    return PromptOptimized(
        run_id=req.run_id, candidate_id=req.candidate_id, accepted=accepted, reason=outcome.decision.reason,
        baseline_score=base.mean, best_score=best.mean, p_value=c.p_value if c else None,
        prompt_template=outcome.best.template if accepted else None,
        prompt_style=(style or req.task_spec.prompt_style) if accepted else None,
        derived_spec=derived_spec(req.candidate, req.candidate_id, req.run_id) if accepted else None,
        spent=outcome.spent.as_dict(), report_path=str(report),
        comparison=asdict(c) if c else None,
        splits=outcome.splits.record(), seed=req.seed, pareto=[_pareto_row(t) for t in outcome.pareto],
        stopped=outcome.search.stopped)


async def run_optimization(req: PromptOptimizationRequested, items: Sequence[DatasetItem], report_dir: Path, *,
                           optimizer: CandidateSpec | None = None,
                           on_trial: Callable[[Trial], None] = lambda _t: None) -> PromptOptimized:
    task, cand = req.task_spec, req.candidate
    optimizer = optimizer or req.optimizer
    async with AsyncExitStack() as stack:
        close = stack.push_async_callback
        client = client_for_spec(cand)
        close(client.aclose)
        proposer = None
        if optimizer is not None and req.strategy != "fewshot":
            opt_client = client_for_spec(optimizer)
            close(opt_client.aclose)
            proposer = EngineProposer(opt_client, seed=req.seed)
        task = await _probed_style(client, task, cand.decoding, items, cand.postprocess)
        evaluator = Evaluator(
            EngineTarget(client, task, cand.decoding),
            lambda out, item: score(task.metric, out, item.expected, task.metric_args),
            lambda text: postprocess(cand.postprocess, text),
            BudgetMeter(req.budget, time.monotonic), Layout())
        outcome = await optimize(items, task.prompt_template, search_config(req), evaluator, proposer,
                                 alpha=req.alpha, on_trial=on_trial)
    report = await asyncio.to_thread(write_report, outcome, f"Prompt optimization {req.run_id}: {cand.name} on "
                                     f"{task.name}", report_dir)
    return to_event(req, outcome, report, task.prompt_style)


async def _probed_style(client: EngineClient, task: TaskSpec, decoding: Decoding,
                        items: Sequence[DatasetItem], post: list[ProcessingStep]) -> TaskSpec:
    if task.prompt_style != "chat":
        return task
    probe = items[:PROBE_ITEMS]
    answers = [(await client.generate(build_request(task, item, decoding))).text for item in probe]
    scores = [score(task.metric, postprocess(post, a), i.expected, task.metric_args) for a, i in zip(answers, probe,
                                                                                                      strict=True)]
    style = style_for(task.prompt_style, scores)
    return task if style == task.prompt_style else task.model_copy(update={"prompt_style": style})
