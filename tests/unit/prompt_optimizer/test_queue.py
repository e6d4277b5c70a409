"""The run queue across a crash: an accepted run resumes; an outcome stored but not yet
published (the process died between the two) is published at start-up, exactly once more."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from schemas import Envelope, EventData, new_event
from schemas.events.prompts import PromptOptimizationFailed, PromptOptimizationRequested, PromptOptimized
from services.prompt_optimizer.adapters.run_queue import RunQueue
from services.prompt_optimizer.adapters.runs import RunStore
from tests.unit.prompt_optimizer.test_result_event import request


def _store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path, PromptOptimizationRequested, (PromptOptimized, PromptOptimizationFailed))


def _queue(store: RunStore, published: list[EventData]) -> RunQueue:
    async def work(req: Any) -> EventData:
        return PromptOptimizationFailed(run_id=req.run_id, candidate_id=req.candidate_id, reason="done")

    async def publish(outcome: EventData, cause: Envelope[Any]) -> None:
        published.append(outcome)

    return RunQueue(store, work, publish, asyncio.Semaphore(1))


async def _settle(queue: RunQueue) -> None:
    while queue._tasks:  # noqa: SLF001 - the test waits for the queue's own tasks
        await asyncio.sleep(0.01)


async def test_an_outcome_stored_but_never_published_is_published_at_startup(tmp_path: Path) -> None:
    store = _store(tmp_path)
    env = new_event(request(), source="test")
    store.save_request(env)
    store.save(PromptOptimizationFailed(run_id=env.data.run_id, candidate_id=env.data.candidate_id, reason="done"))
    published: list[EventData] = []

    queue = _queue(store, published)
    assert queue.resume() == 1
    await _settle(queue)
    assert [p.run_id for p in published] == [env.data.run_id]  # type: ignore[attr-defined]

    again = _queue(store, published)
    assert again.resume() == 0  # marked published: not sent a third time
    assert len(published) == 1


async def test_an_accepted_run_resumes_and_is_marked_published(tmp_path: Path) -> None:
    store = _store(tmp_path)
    env = new_event(request(), source="test")
    store.save_request(env)
    published: list[EventData] = []

    queue = _queue(store, published)
    assert queue.resume() == 1
    await _settle(queue)

    assert len(published) == 1 and store.pending() == [] and store.unpublished() == []
