"""The prompt optimizer service: consumes `prompt_optimization.requested` on
`challenger.prompts`, publishes `prompt.optimized` or `prompt_optimization.failed`. Runs go
through a background queue (see handlers.RunQueue); unfinished runs resume at startup."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from schemas.envelope import Envelope, new_event
from schemas.events.prompts import TOPIC, PromptOptimizationRequested
from services.prompt_optimizer.adapters.runs import Outcome
from services.prompt_optimizer.handlers import Deps, RunQueue
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

NAME = "prompt_optimizer"
PORT = 8103
log = logging.getLogger(__name__)


def build_app(settings: Settings | None = None, group_id: str = NAME) -> FastAPI:
    settings = settings or Settings()
    deps = Deps(settings.reports_dir, settings.registry_url, settings.token)

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        async def publish(result: Outcome, cause: Envelope[Any]) -> None:
            await ctx.producer.publish(new_event(result, source=NAME, cause=cause))

        queue = ctx.state["runs"] = RunQueue(deps, publish)
        if resumed := queue.resume():
            log.info("resuming %d unfinished prompt optimization run(s)", resumed)
        return [Subscription([TOPIC], group_id, queue.accept, types={PromptOptimizationRequested.event_type})]

    async def on_stop(ctx: ServiceContext) -> None:
        await ctx.state["runs"].stop()

    return service_app(NAME, wire, settings, on_stop=on_stop)
