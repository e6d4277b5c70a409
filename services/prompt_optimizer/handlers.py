"""Requests to outcomes: `prompt_optimization.requested` -> `prompt.optimized` or
`prompt_optimization.failed`; `config_search.requested` -> `config_search.completed`.
Any failure of a run becomes an outcome with the reason; the consumer keeps going.
`run_optimization` and `run_config_search` wire the real engines into the pure domain; the
service and the CLI (`challenger optimize`, `challenger search`) both call them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from schemas.candidate import CandidateSpec, Decoding, ProcessingStep
from schemas.events.prompts import (
    ConfigSearchCompleted,
    ConfigSearchRequested,
    PromptOptimizationFailed,
    PromptOptimizationRequested,
    PromptOptimized,
)
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.adapters.config_report import write_config_report
from services.prompt_optimizer.adapters.datasets import load_items
from services.prompt_optimizer.adapters.measure import EngineMeasure
from services.prompt_optimizer.adapters.models import EngineProposer, EngineTarget
from services.prompt_optimizer.adapters.registry import candidate_spec
from services.prompt_optimizer.adapters.report import write_report
from services.prompt_optimizer.adapters.runs import RunStore
from services.prompt_optimizer.domain.budget import BudgetMeter
from services.prompt_optimizer.domain.config_event import to_event as config_event
from services.prompt_optimizer.domain.config_search import search_configs as search
from services.prompt_optimizer.domain.halving import Arm
from services.prompt_optimizer.domain.optimize import optimize
from services.prompt_optimizer.domain.optimized import search_config, to_event
from services.prompt_optimizer.domain.style import PROBE_ITEMS, style_for
from services.prompt_optimizer.domain.trials import Evaluator, Trial
from services.prompt_optimizer.domain.variants import Layout
from shared.engines import EngineClient, client_for_spec
from shared.processing import postprocess
from shared.scoring.metrics import score
from shared.scoring.prompting import build_request

log = logging.getLogger(__name__)


def prompt_store(reports_dir: Path) -> RunStore:
    return RunStore(reports_dir / "prompts", PromptOptimizationRequested, (PromptOptimized, PromptOptimizationFailed))


def config_store(reports_dir: Path) -> RunStore:
    return RunStore(reports_dir / "configs", ConfigSearchRequested, (ConfigSearchCompleted,))


@dataclass(frozen=True)
class Deps:
    reports_dir: Path
    registry_url: str
    token: str | None = None


async def optimize_prompt(req: PromptOptimizationRequested, deps: Deps) -> PromptOptimized | PromptOptimizationFailed:
    try:
        optimizer = req.optimizer
        if optimizer is None and req.optimizer_candidate_id and req.strategy != "fewshot":
            optimizer = await candidate_spec(deps.registry_url, req.optimizer_candidate_id, deps.token)
        if optimizer is None and req.strategy != "fewshot":
            raise ValueError(f"strategy {req.strategy!r} needs an optimizer model: give 'optimizer' or "
                             "'optimizer_candidate_id', or use strategy 'fewshot'")
        return await run_optimization(req, load_items(req.task_spec),
                                      prompt_store(deps.reports_dir).run_dir(req.run_id), optimizer=optimizer)
    except Exception as exc:  # a bad request, dataset or endpoint must not stop the service
        log.warning("prompt optimization %s failed: %s", req.run_id, exc)
        return PromptOptimizationFailed(run_id=req.run_id, candidate_id=req.candidate_id,
                                        reason=f"{type(exc).__name__}: {exc}"[:2000])


async def search_configs(req: ConfigSearchRequested, deps: Deps) -> ConfigSearchCompleted:
    try:
        report_dir = config_store(deps.reports_dir).run_dir(req.run_id)
        return await run_config_search(req, load_items(req.task_spec), report_dir)
    except Exception as exc:
        log.warning("config search %s failed: %s", req.run_id, exc)
        return ConfigSearchCompleted(run_id=req.run_id, candidate_id=req.candidate_id, status="failed",
                                     reason=f"failed: {type(exc).__name__}: {exc}"[:2000])


async def run_optimization(req: PromptOptimizationRequested, items: Sequence[DatasetItem], report_dir: Path, *,
                           optimizer: CandidateSpec | None = None,
                           on_trial: Callable[[Trial], None] = lambda _t: None) -> PromptOptimized:
    """One optimization run, from its request to its `prompt.optimized` payload, with the report."""
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


async def run_config_search(req: ConfigSearchRequested, items: Sequence[DatasetItem], report_dir: Path,
                            on_rung: Callable[[int, list[Arm]], None] = lambda _r, _a: None) -> ConfigSearchCompleted:
    """One configuration search, from its request to its `config_search.completed` payload."""
    measure = EngineMeasure(req.candidate, req.task_spec)
    try:
        outcome = await search(req.candidate, req.space, items, measure, BudgetMeter(req.budget, time.monotonic),
                               on_rung=on_rung)
    finally:
        await measure.aclose()
    done = config_event(req, outcome, report_dir / "index.html")
    await asyncio.to_thread(write_config_report, outcome, done.variants,
                            f"Configuration search {req.run_id}: {req.candidate.name} on {req.task_spec.name}",
                            report_dir)
    return done
