"""Wires the monitor: real adapters into the handlers, the handlers onto their topics."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from fastapi import FastAPI, HTTPException

from challenger.client import AsyncClient
from schemas.events import degradations, inference
from services.monitor.adapters.judge import Judge
from services.monitor.adapters.outbox import OutboxPublish, open_outbox
from services.monitor.adapters.store import MonitorStore
from services.monitor.config import MonitorConfig, config_path, load_config
from services.monitor.handlers.labelling import LabellingHandler
from services.monitor.handlers.monitor import Deps, Monitor, Publish, warm_drift
from services.monitor.handlers.samples import AugmentationHandler
from shared.outbox import OutboxRelay
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

GROUP = "monitor"
log = logging.getLogger(__name__)
BATCH = 500  # inference events per fetch, handled (and journaled) at once
DRIFT_BACKLOG = 1  # windows waiting for Evidently; later ones get the cheap rules only, at once


def drift_pool() -> ProcessPoolExecutor:
    """One worker process for Evidently: its seconds of CPU per window then do not hold the
    GIL that ingest needs. Spawned (not forked) because this process runs threads."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def build_monitor(ctx: ServiceContext, cfg: MonitorConfig, publish: Publish) -> Monitor:
    deps = Deps(publish=publish, store=MonitorStore(ctx.settings.home),
                reports_dir=ctx.settings.reports_dir, judge=Judge(cfg.judge) if cfg.judge else None,
                executor=drift_pool())
    return Monitor(cfg, deps, queue_size=DRIFT_BACKLOG)


async def tick_forever(monitor: Monitor, every_s: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        await monitor.tick(time.time())


def create_app(settings: Settings | None = None, cfg: MonitorConfig | None = None, group: str = GROUP) -> FastAPI:
    settings = settings or Settings()
    cfg = cfg or load_config(config_path(settings.home))

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        engine = open_outbox(settings)
        publish = OutboxPublish(engine)
        relay = OutboxRelay(engine, ctx.producer, bootstrap=settings.kafka_bootstrap,
                            retention_s=settings.outbox_retention_s)
        ctx.state.update(outbox=engine, relay=relay, relay_stop=asyncio.Event())
        ctx.state["relay_task"] = asyncio.create_task(relay.run(ctx.state["relay_stop"]))
        monitor = build_monitor(ctx, cfg, publish)
        assert monitor.deps.executor is not None
        ctx.state["drift_ready"] = asyncio.wrap_future(monitor.deps.executor.submit(warm_drift))
        registry = AsyncClient(settings.registry_url, token=settings.token or "")
        augmenter = AugmentationHandler(registry=registry, home=settings.home, publish=publish)
        labeller = LabellingHandler(publish=publish)
        tasks = [asyncio.create_task(monitor.analyse_forever())]
        if restored := await monitor.restore():
            log.info("rebuilt the open windows from %d journaled record(s)", restored)
        tasks += [asyncio.create_task(tick_forever(monitor))] if cfg.window_seconds else []
        ctx.state.update(monitor=monitor, registry=registry, tasks=tasks)
        return [
            Subscription([inference.TOPIC], group, monitor.handle,
                         {inference.InferenceLogged.event_type, inference.FeedbackReceived.event_type},
                         batch_handler=monitor.handle_batch, max_records=BATCH),
            Subscription([degradations.TOPIC], f"{group}-augment", augmenter.handle,
                         {degradations.SamplesAugmentationRequested.event_type}),
            Subscription([degradations.TOPIC], f"{group}-label", labeller.handle,
                         {degradations.LabellingRequested.event_type}),
        ]

    async def on_stop(ctx: ServiceContext) -> None:
        for task in ctx.state["tasks"]:
            task.cancel()
        ctx.state["monitor"].deps.executor.shutdown(wait=False, cancel_futures=True)
        await ctx.state["registry"].aclose()
        judge = ctx.state["monitor"].deps.judge
        await judge.aclose() if judge else None
        ctx.state["relay_stop"].set()  # rows not sent yet wait in the outbox for the next start
        await asyncio.gather(ctx.state["relay_task"], return_exceptions=True)
        ctx.state["outbox"].dispose()

    app = service_app("monitor", wire, settings, on_stop=on_stop)

    @app.get("/api/v1/monitor/status", tags=["monitor"])
    async def status() -> dict[str, Any]:
        ctx = getattr(app.state, "ctx", None)
        if ctx is None or "monitor" not in ctx.state:
            raise HTTPException(503, "the monitor is starting")
        return dict(ctx.state["monitor"].status())

    return app
