"""The loadtester service: consumes `loadtest.requested`, publishes `loadtest.completed`
or `loadtest.failed`. Any failure of a run becomes a `failed` event with the reason."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from schemas.envelope import Envelope, new_event
from schemas.events.loadtests import TOPIC, LoadtestFailed, LoadtestRequested
from services.loadtester.handlers import report_dir, run_loadtest
from shared.bus.producer import EventProducer
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

NAME = "loadtester"
PORT = 8102
log = logging.getLogger(__name__)


async def on_requested(env: Envelope[Any], producer: EventProducer, settings: Settings) -> None:
    req: LoadtestRequested = env.data
    try:
        done = await run_loadtest(req, report_dir(settings.reports_dir, req.loadtest_id))
    except Exception as exc:  # a bad endpoint or spec must not stop the consumer
        log.warning("load test %s failed: %s", req.loadtest_id, exc)
        failed = LoadtestFailed(loadtest_id=req.loadtest_id, candidate_id=req.candidate_id,
                                reason=f"{type(exc).__name__}: {exc}"[:2000])
        await producer.publish(new_event(failed, source=NAME, cause=env))
        return
    await producer.publish(new_event(done, source=NAME, cause=env))


def build_app(settings: Settings | None = None, group_id: str = NAME) -> FastAPI:
    settings = settings or Settings()

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        async def handler(env: Envelope[Any]) -> None:
            await on_requested(env, ctx.producer, ctx.settings)

        return [Subscription([TOPIC], group_id, handler, types={LoadtestRequested.event_type})]

    return service_app(NAME, wire, settings)
