"""The prompt optimizer's wiring: one consumer of `prompt_optimization.requested` and
`config_search.requested` on `challenger.prompts`, deduplicated by run id in the kit's file
inbox. Runs go through background queues (adapters/run_queue.py): the consumer stores a request
and returns; unfinished runs resume at startup; a repeated request gets the stored outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.envelope import Envelope, EventData, new_event
from schemas.events.prompts import ConfigSearchRequested, PromptOptimizationRequested
from services.prompt_optimizer.adapters.run_queue import Publish, RunQueue
from services.prompt_optimizer.handlers import Deps, config_store, optimize_prompt, prompt_store, search_configs
from shared.bus.producer import EventProducer
from shared.kit.inbox import FileInbox
from shared.kit.service import Consumes, Service, new_bus
from shared.settings import Settings

NAME = "prompt_optimizer"
GROUP = NAME
log = logging.getLogger(__name__)
Work = Callable[[Any, Deps], Awaitable[EventData]]


@dataclass
class PromptOptimizerAdapters:
    """The ports: what a run of each kind does (the real ones call the engines and the
    registry; tests script them)."""

    optimize: Work = optimize_prompt
    search: Work = search_configs


def run_key(envelope: Envelope[Any]) -> str:
    """The inbox's key: the run id, per kind of run (each kind keeps its own run store)."""
    return f"{envelope.type}:{envelope.data.run_id}"


@dataclass(kw_only=True)
class PromptOptimizerService(Service):
    name: ClassVar[str] = NAME
    prompts: RunQueue
    configs: RunQueue
    group: str = GROUP

    def consumes(self) -> Sequence[Consumes]:
        return [Consumes(self.group, {PromptOptimizationRequested: self.prompts.accept,
                                      ConfigSearchRequested: self.configs.accept}, dedup_key=run_key,
                         replay={PromptOptimizationRequested: self.prompts.replay,
                                 ConfigSearchRequested: self.configs.replay})]

    async def start(self) -> None:
        if resumed := self.prompts.resume() + self.configs.resume():
            log.info("resuming %d unfinished run(s)", resumed)

    async def close(self) -> None:
        for queue in (self.prompts, self.configs):
            await queue.stop()


def publisher(bus: EventProducer) -> Publish:
    async def publish(outcome: EventData, cause: Envelope[Any]) -> None:
        await bus.publish(new_event(outcome, source=NAME, cause=cause))
    return publish


def bootstrap(settings: Settings, adapters: PromptOptimizerAdapters | None = None, *,
              group: str = GROUP) -> PromptOptimizerService:
    adapters = adapters or PromptOptimizerAdapters()
    deps = Deps(settings.reports_dir, settings.registry_url, settings.token)
    bus = new_bus(settings, NAME)
    publish, one = publisher(bus), asyncio.Semaphore(1)
    return PromptOptimizerService(
        settings=settings, bus=bus, inbox=FileInbox(settings.home / "inbox" / NAME), group=group,
        prompts=RunQueue(prompt_store(deps.reports_dir), lambda req: adapters.optimize(req, deps), publish, one),
        configs=RunQueue(config_store(deps.reports_dir), lambda req: adapters.search(req, deps), publish, one))
