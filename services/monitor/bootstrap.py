"""The monitor, built: its parts from settings (or the ones a test gives), what it consumes,
and the loops beside its consumers (window analysis, time-window ticks)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy.engine import Engine

from challenger.client import AsyncClient
from schemas.events.degradations import LabellingRequested, SamplesAugmentationRequested
from schemas.events.inference import FeedbackReceived, InferenceLogged
from services.monitor.adapters.journal import SqlJournal
from services.monitor.adapters.judge import Judge
from services.monitor.adapters.outbox import OutboxPublish, open_outbox
from services.monitor.adapters.store import MonitorStore
from services.monitor.config import MonitorConfig, config_path, load_config
from services.monitor.handlers.labelling import LabellingHandler
from services.monitor.handlers.monitor import Deps, Journal, Monitor, warm_drift
from services.monitor.handlers.samples import AugmentationHandler
from shared.kit.inbox import SqlInbox
from shared.kit.service import Consumes, Loop, Service, new_bus
from shared.settings import Settings

NAME = "monitor"
GROUP = "monitor"
BATCH = 500  # inference events per fetch, handled (and journaled) at once
DRIFT_BACKLOG = 1  # windows waiting for Evidently; later ones get the cheap rules only, at once
TICK_S = 1.0  # how often time windows that are due close on a route gone quiet
log = logging.getLogger(__name__)


def drift_pool() -> ProcessPoolExecutor:
    """One worker process for Evidently: its seconds of CPU per window then do not hold the
    GIL that ingest needs. Spawned (not forked) because this process runs threads."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


@dataclass
class MonitorAdapters:
    """The monitor's ports: its database (outbox, inbox, the window journal, the closed windows'
    log, the references, the alarm counters: what every instance reads), the registry, the judge
    model, the drift worker. `real` builds them from the settings."""

    outbox: Engine
    store: MonitorStore
    journal: Journal
    registry: AsyncClient
    judge: Judge | None
    executor: Executor

    @classmethod
    def real(cls, settings: Settings, cfg: MonitorConfig, group: str = GROUP) -> MonitorAdapters:
        engine = open_outbox(settings)
        return cls(outbox=engine, store=MonitorStore(engine),
                   journal=SqlJournal(engine, group, keep_windows=cfg.window_log),
                   registry=AsyncClient(settings.registry_url, token=settings.token or ""),
                   judge=Judge(cfg.judge) if cfg.judge else None, executor=drift_pool())


@dataclass(kw_only=True)
class MonitorService(Service):
    name: ClassVar[str] = NAME
    monitor: Monitor
    registry: AsyncClient
    augmenter: AugmentationHandler
    labeller: LabellingHandler
    executor: Executor
    group: str = GROUP  # the inference consumer's group; the others are <group>-augment and <group>-label
    drift_ready: asyncio.Future[None] | None = field(default=None, init=False)  # Evidently imported

    def consumes(self) -> Sequence[Consumes]:
        return [
            # The hot stream: deduplicated by the monitor's windows (request id), not by the inbox,
            # whose row per record would cost more than all the rest at thousands of records/s.
            # Split by partition among the group's instances: the monitor holds the windows of the
            # partitions it is assigned, rebuilt from the shared journal (`rebalance`).
            Consumes(self.group, {InferenceLogged: self.monitor.handle, FeedbackReceived: self.monitor.handle},
                     dedup_key=None, batch=self.monitor.handle_batch, max_records=BATCH, rebalance=self.monitor),
            Consumes(f"{self.group}-augment", {SamplesAugmentationRequested: self.augmenter.handle}),
            Consumes(f"{self.group}-label", {LabellingRequested: self.labeller.handle}),
        ]

    def background(self) -> Sequence[Loop]:
        return [self._analyse, self._tick] if self.monitor.cfg.window_seconds else [self._analyse]

    async def start(self) -> None:
        """Import Evidently in the drift worker ahead of the first window. The open windows come
        back from the journal when the group assigns this instance its partitions
        (`Monitor.assigned`); the alarm counters are read for every window judged."""
        self.drift_ready = asyncio.wrap_future(self.executor.submit(warm_drift))

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        await self.registry.aclose()
        if self.monitor.deps.judge is not None:
            await self.monitor.deps.judge.aclose()
        if self.outbox is not None:  # rows not sent yet wait in it for the next start
            self.outbox.dispose()

    async def _analyse(self, stop: asyncio.Event) -> None:
        """Analyse closed windows (judge, drift, rules, alarm) beside ingest until stopped."""
        worker = asyncio.create_task(self.monitor.analyse_forever())
        try:
            await stop.wait()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _tick(self, stop: asyncio.Event) -> None:
        """Close the time windows that are due, also on a route that went quiet."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK_S)
                return
            await self.monitor.tick(time.time())


def bootstrap(settings: Settings | None = None, adapters: MonitorAdapters | None = None, *,
              cfg: MonitorConfig | None = None, group: str = GROUP) -> MonitorService:
    """The monitor service. `cfg` is its YAML config (read from the home by default); `group`
    names its consumer groups (tests give each run its own)."""
    settings = settings or Settings()
    cfg = cfg or load_config(config_path(settings.home))
    ports = adapters or MonitorAdapters.real(settings, cfg, group)
    publish = OutboxPublish(ports.outbox)
    deps = Deps(publish=publish, store=ports.store, journal=ports.journal,
                reports_dir=settings.reports_dir, judge=ports.judge, executor=ports.executor)
    return MonitorService(
        settings=settings, bus=new_bus(settings, NAME), inbox=SqlInbox(ports.outbox), outbox=ports.outbox,
        monitor=Monitor(cfg, deps, queue_size=DRIFT_BACKLOG), registry=ports.registry,
        augmenter=AugmentationHandler(registry=ports.registry, home=settings.home, publish=publish),
        labeller=LabellingHandler(publish=publish), executor=ports.executor, group=group)
