"""`prompt_optimization.requested` -> `prompt.optimized` or `prompt_optimization.failed`.

Idempotent by run id: a finished run's result is stored beside its report and re-published
on redelivery instead of spending the model budget again. A run killed midway has no stored
result, so the redelivered request runs it again from the same seed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from schemas.events.prompts import PromptOptimizationFailed, PromptOptimizationRequested, PromptOptimized
from services.prompt_optimizer.adapters.datasets import load_items
from services.prompt_optimizer.adapters.registry import candidate_spec
from services.prompt_optimizer.adapters.runs import load_result, save_result
from services.prompt_optimizer.runner import run_optimization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    reports_dir: Path
    registry_url: str
    token: str | None = None


async def optimize_prompt(req: PromptOptimizationRequested, deps: Deps) -> PromptOptimized | PromptOptimizationFailed:
    done = load_result(deps.reports_dir, req.run_id)
    if done is not None:
        return done
    try:
        optimizer = req.optimizer
        if optimizer is None and req.optimizer_candidate_id and req.strategy != "fewshot":
            optimizer = await candidate_spec(deps.registry_url, req.optimizer_candidate_id, deps.token)
        if optimizer is None and req.strategy != "fewshot":
            raise ValueError(f"strategy {req.strategy!r} needs an optimizer model: give 'optimizer' or "
                             "'optimizer_candidate_id', or use strategy 'fewshot'")
        result = await run_optimization(req, load_items(req.task_spec), deps.reports_dir, optimizer=optimizer)
    except Exception as exc:  # a bad request, dataset or endpoint must not stop the consumer
        log.warning("prompt optimization %s failed: %s", req.run_id, exc)
        return PromptOptimizationFailed(run_id=req.run_id, candidate_id=req.candidate_id,
                                        reason=f"{type(exc).__name__}: {exc}"[:2000])
    save_result(deps.reports_dir, result)
    return result
