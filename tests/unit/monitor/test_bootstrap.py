"""The monitor's one bootstrap, with local parts: its consumer table (the hot stream outside
the inbox, batched; the augment and label requests through it), its loops that stop when told,
its assignment of partitions that rebuilds their open windows, its close that releases what it holds."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from aiokafka.structs import TopicPartition

from challenger.client import AsyncClient
from schemas.events.degradations import LabellingRequested, SamplesAugmentationRequested
from schemas.events.inference import FeedbackReceived, InferenceLogged
from services.monitor.bootstrap import MonitorAdapters, MonitorService, bootstrap
from services.monitor.config import MonitorConfig
from shared.bus.consumer import by_event_id
from shared.db import make_engine
from shared.kit.inbox import SqlInbox
from shared.settings import Settings
from tests.unit.monitor.fakes import MemoryJournal, MemoryStore
from tests.unit.monitor.synthetic import stream


class NoWorker(Executor):
    """A drift worker that is never asked for drift here: its warm-up is done at once."""

    def __init__(self) -> None:
        self.shut = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(None)
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut = True


class Registry(AsyncClient):
    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


def service(tmp_path: Path, journal: MemoryJournal | None = None, **cfg: Any) -> MonitorService:
    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    adapters = MonitorAdapters(outbox=engine, store=MemoryStore(), journal=journal or MemoryJournal(),  # type: ignore[arg-type]
                               registry=Registry("http://127.0.0.1:9"), judge=None, executor=NoWorker())
    return bootstrap(Settings(home=tmp_path, DATABASE_URL=None), adapters, cfg=MonitorConfig(**cfg), group="g")


def test_the_consumer_table_keeps_the_hot_stream_out_of_the_inbox(tmp_path: Path) -> None:
    s = service(tmp_path)
    stream_, augment, label = s.consumes()
    assert (stream_.group, stream_.types, stream_.dedup_key, stream_.max_records) == (
        "g", {InferenceLogged.event_type, FeedbackReceived.event_type}, None, 500)
    assert stream_.batch == s.monitor.handle_batch and stream_.rebalance is s.monitor  # the windows follow partitions
    assert (augment.group, augment.types, augment.dedup_key) == (
        "g-augment", {SamplesAugmentationRequested.event_type}, by_event_id)
    assert (label.group, label.types, label.dedup_key) == ("g-label", {LabellingRequested.event_type}, by_event_id)
    assert isinstance(s.inbox, SqlInbox) and s.inbox.engine is s.outbox


async def test_the_loops_stop_when_told(tmp_path: Path) -> None:
    assert len(service(tmp_path).background()) == 1  # count windows only: no ticks
    s = service(tmp_path, window_seconds=30)
    stop = asyncio.Event()
    loops = [asyncio.create_task(loop(stop)) for loop in s.background()]
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*loops), 1)  # at once, not at the kit's 5 s cancel


async def test_an_assigned_partition_brings_back_its_open_windows_and_close_releases_the_parts(
        tmp_path: Path) -> None:
    journal = MemoryJournal()
    await service(tmp_path, journal).monitor.handle_batch(stream(7, shift_at=None))  # partition 0's
    s = service(tmp_path, journal)  # a new process on the same database
    await s.start()
    assert s.drift_ready is not None
    await asyncio.wait_for(s.drift_ready, 1)
    await s.monitor.assigned({TopicPartition(InferenceLogged.topic, 1)})
    assert s.monitor.windows.open_sizes() == {}
    await s.monitor.assigned({TopicPartition(InferenceLogged.topic, 0)})
    assert list(s.monitor.windows.open_sizes().values()) == [7]
    await s.close()
    assert s.registry.closed and s.executor.shut  # type: ignore[attr-defined]
