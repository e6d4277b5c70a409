"""`prompt_optimization.requested` -> `prompt.optimized` or `prompt_optimization.failed`.

A run takes minutes of model calls, longer than a consumer may go without polling, so the
consumer only records the request (durably, before its offset is committed) and hands it to
`RunQueue`, which runs one optimization at a time in the background. Idempotent by run id: a
finished run's outcome is re-published on redelivery; unfinished runs resume at startup from
the same seed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.envelope import Envelope
from schemas.events.prompts import PromptOptimizationFailed, PromptOptimizationRequested, PromptOptimized
from services.prompt_optimizer.adapters.datasets import load_items
from services.prompt_optimizer.adapters.registry import candidate_spec
from services.prompt_optimizer.adapters.runs import Outcome, load_result, pending_requests, save_request, save_result
from services.prompt_optimizer.runner import run_optimization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    reports_dir: Path
    registry_url: str
    token: str | None = None


async def optimize_prompt(req: PromptOptimizationRequested, deps: Deps) -> PromptOptimized | PromptOptimizationFailed:
    """Run (or recall) one optimization; the outcome, success or failure, is stored by run id."""
    done = load_result(deps.reports_dir, req.run_id)
    if done is not None:
        return done
    result: Outcome
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
        result = PromptOptimizationFailed(run_id=req.run_id, candidate_id=req.candidate_id,
                                          reason=f"{type(exc).__name__}: {exc}"[:2000])
    save_result(deps.reports_dir, result)
    return result


Publish = Callable[[Outcome, Envelope[Any]], Awaitable[None]]


class RunQueue:
    """Background runs, one at a time (the model servers are the bottleneck)."""

    def __init__(self, deps: Deps, publish: Publish) -> None:
        self.deps = deps
        self._publish = publish
        self._one = asyncio.Semaphore(1)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def accept(self, env: Envelope[Any]) -> None:
        req: PromptOptimizationRequested = env.data
        done = load_result(self.deps.reports_dir, req.run_id)
        if done is not None:
            await self._publish(done, env)
        elif req.run_id not in self._tasks:
            save_request(self.deps.reports_dir, env)
            self._start(env)

    def resume(self) -> int:
        pending = pending_requests(self.deps.reports_dir)
        for env in pending:
            self._start(env)
        return len(pending)

    def _start(self, env: Envelope[Any]) -> None:
        run_id = env.data.run_id
        task = asyncio.create_task(self._run(env), name=f"prompt-optimization-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run_id, None))

    async def _run(self, env: Envelope[Any]) -> None:
        async with self._one:
            result = await optimize_prompt(env.data, self.deps)
        await self._publish(result, env)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
