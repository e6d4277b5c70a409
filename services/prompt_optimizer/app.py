"""The prompt optimizer service: consumes `prompt_optimization.requested` on
`challenger.prompts`, publishes `prompt.optimized` or `prompt_optimization.failed`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from schemas.envelope import Envelope, new_event
from schemas.events.prompts import TOPIC, PromptOptimizationRequested
from services.prompt_optimizer.handlers import Deps, optimize_prompt
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

NAME = "prompt_optimizer"
PORT = 8103


def build_app(settings: Settings | None = None, group_id: str = NAME) -> FastAPI:
    settings = settings or Settings()
    deps = Deps(settings.reports_dir, settings.registry_url, settings.token)

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        async def handler(env: Envelope[Any]) -> None:
            result = await optimize_prompt(env.data, deps)
            await ctx.producer.publish(new_event(result, source=NAME, cause=env))

        return [Subscription([TOPIC], group_id, handler, types={PromptOptimizationRequested.event_type})]

    return service_app(NAME, wire, settings)
