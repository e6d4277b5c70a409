"""Requests to outcomes: `prompt_optimization.requested` -> `prompt.optimized` or
`prompt_optimization.failed`; `config_search.requested` -> `config_search.completed`.
Any failure of a run becomes an outcome with the reason; the consumer keeps going."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from schemas.events.prompts import (
    ConfigSearchCompleted,
    ConfigSearchRequested,
    PromptOptimizationFailed,
    PromptOptimizationRequested,
    PromptOptimized,
)
from services.prompt_optimizer.adapters.datasets import load_items
from services.prompt_optimizer.adapters.registry import candidate_spec
from services.prompt_optimizer.adapters.runs import RunStore
from services.prompt_optimizer.config_runner import run_config_search
from services.prompt_optimizer.runner import run_optimization

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
