"""The prompt optimizer service: consumes `prompt_optimization.requested` and
`config_search.requested` on `challenger.prompts`; publishes `prompt.optimized` /
`prompt_optimization.failed` and `config_search.completed`. Runs go through background
queues (see queue.py); unfinished runs resume at startup."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from schemas.envelope import Envelope, EventData, new_event
from schemas.events.prompts import TOPIC, ConfigSearchRequested, PromptOptimizationRequested
from services.prompt_optimizer.handlers import Deps, config_store, optimize_prompt, prompt_store, search_configs
from services.prompt_optimizer.queue import RunQueue
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

NAME = "prompt_optimizer"
PORT = 8103
log = logging.getLogger(__name__)


def build_app(settings: Settings | None = None, group_id: str = NAME) -> FastAPI:
    settings = settings or Settings()
    deps = Deps(settings.reports_dir, settings.registry_url, settings.token)

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        async def publish(result: EventData, cause: Envelope[Any]) -> None:
            await ctx.producer.publish(new_event(result, source=NAME, cause=cause))

        one = asyncio.Semaphore(1)
        queues = ctx.state["queues"] = {
            PromptOptimizationRequested.event_type: RunQueue(
                prompt_store(deps.reports_dir), lambda req: optimize_prompt(req, deps), publish, one),
            ConfigSearchRequested.event_type: RunQueue(
                config_store(deps.reports_dir), lambda req: search_configs(req, deps), publish, one),
        }
        if resumed := sum(q.resume() for q in queues.values()):
            log.info("resuming %d unfinished run(s)", resumed)

        async def handler(env: Envelope[Any]) -> None:
            await queues[env.type].accept(env)

        return [Subscription([TOPIC], group_id, handler, types=set(queues))]

    async def on_stop(ctx: ServiceContext) -> None:
        for queue in ctx.state.get("queues", {}).values():
            await queue.stop()

    return service_app(NAME, wire, settings, on_stop=on_stop)
