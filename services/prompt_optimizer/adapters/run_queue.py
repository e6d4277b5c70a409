"""Background runs. A run takes minutes of model calls, longer than a consumer may go without
polling, so the consumer only stores the request (durably, before its offset is committed and
the inbox marks its run id) and hands it here. One run at a time across all kinds (the model
servers are the bottleneck). Outcomes are stored by run id and published; a repeated request is
answered with the stored outcome (`replay`); unfinished runs resume at startup from the same
seed, and outcomes stored but not marked published are published then (a crash between the two
would otherwise lose them: the request's offset was committed long before)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from schemas.envelope import Envelope, EventData
from services.prompt_optimizer.adapters.runs import RunStore

Work = Callable[[Any], Awaitable[EventData]]
Publish = Callable[[EventData, Envelope[Any]], Awaitable[None]]


class RunQueue:
    def __init__(self, store: RunStore, work: Work, publish: Publish, one_at_a_time: asyncio.Semaphore) -> None:
        self.store = store
        self._work = work
        self._publish = publish
        self._one = one_at_a_time
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def accept(self, env: Envelope[Any]) -> None:
        """A request the inbox has not seen: store it and run it. One whose outcome is stored
        already (the service died before the inbox marked it) is answered with that outcome;
        one under way (resumed at startup) is not started twice."""
        run_id = env.data.run_id
        if self.store.load(run_id) is not None:
            await self.replay(env)
        elif run_id not in self._tasks:
            self.store.save_request(env)
            self._start(env)

    async def replay(self, env: Envelope[Any]) -> None:
        """A repeated request: its stored outcome again. A run not finished yet publishes its
        outcome when it finishes."""
        outcome = self.store.load(env.data.run_id)
        if outcome is not None:
            await self._published(outcome, env)

    def resume(self) -> int:
        """At startup: run what was accepted but never finished, publish what finished but
        may not have been published; returns how many of either."""
        pending, unpublished = self.store.pending(), self.store.unpublished()
        for env in pending:
            self._start(env)
        for outcome, env in unpublished:
            self._spawn(f"publish-{env.data.run_id}", self._published(outcome, env))
        return len(pending) + len(unpublished)

    def _start(self, env: Envelope[Any]) -> None:
        self._spawn(env.data.run_id, self._run(env))

    def _spawn(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"run-{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _run(self, env: Envelope[Any]) -> None:
        async with self._one:
            outcome = await self._work(env.data)
        self.store.save(outcome)
        await self._published(outcome, env)

    async def _published(self, outcome: EventData, env: Envelope[Any]) -> None:
        await self._publish(outcome, env)
        self.store.mark_published(env.data.run_id)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
