"""The evaluator process: one consumer of evaluation.requested; everything else is in handlers."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from schemas.events.evaluations import TOPIC, EvaluationRequested
from services.evaluator.adapters.garak_runner import GarakRunner, garak_python
from services.evaluator.handlers import Deps, handle_requested
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

NAME = "evaluator"
PORT = 8101


async def wire(ctx: ServiceContext) -> list[Subscription]:
    home = ctx.settings.home
    deps = Deps(producer=ctx.producer, reports_dir=ctx.settings.reports_dir, blob_root=home,
                garak=GarakRunner(garak_python(home), ctx.settings.reports_dir / "garak"))
    return [Subscription(topics=[TOPIC], group_id=f"challenger-{NAME}", handler=partial(handle_requested, deps=deps),
                         types={EvaluationRequested.event_type})]


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_app(NAME, wire, settings)
