"""The deployer's half of the detection path, for `benchmarks.monitor`: a deployer built by its
own `bootstrap` on the benchmark's broker, holding a route whose candidate has a fallback, so a
`degradation.detected` for it turns into a `fallback.activated` the way it does in production
(its consumer, its transaction, its outbox relay). And the one reader both halves are timed by:
the first event of a type for a route, as any operator's consumer would read it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import EventData, new_event
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from services.deployer.adapters import store
from services.deployer.bootstrap import bootstrap as deployer_bootstrap
from services.deployer.config import DeployerSettings
from shared.bus.codec import decode
from shared.bus.producer import EventProducer
from shared.kit.service import running


@dataclass(frozen=True)
class Seen:
    """When an event was read (perf_counter), and when its producer stamped it (the record's
    CreateTime, wall-clock seconds): the second is the independent check of the first."""
    read_at: float
    created_at: float


@contextlib.asynccontextmanager
async def first_event(bootstrap: str, event: type[EventData], route: str,
                      timeout: float) -> AsyncIterator[asyncio.Task[Seen | None]]:
    """A task resolving to when the first `event` for `route` is read from its topic (None
    after `timeout`); the reader is at the topic's end when the block is entered."""
    consumer = AIOKafkaConsumer(event.topic, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                enable_auto_commit=False)
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    await consumer.seek_to_end()

    async def read() -> Seen | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    for records in (await consumer.getmany(timeout_ms=50)).values():
                        for r in records:
                            envelope = decode(r.key, r.value, r.headers)
                            if envelope.type == event.event_type and getattr(envelope.data, "route", None) == route:
                                return Seen(time.perf_counter(), r.timestamp / 1000)
        return None

    task = asyncio.create_task(read())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


def route_table(route: str, serving: str, fallback: str) -> RouteTable:
    def target(candidate_id: str) -> RouteTarget:
        return RouteTarget(candidate_id=candidate_id, url="http://127.0.0.1:9/v1", model=candidate_id)
    return RouteTable(route=route, targets=[target(serving)], fallbacks=[target(fallback)])


@contextlib.asynccontextmanager
async def deployer_serving(home: Path, bootstrap: str, table: RouteTable) -> AsyncIterator[None]:
    """A running deployer (SQLite in `home`, ticks off the measured path) that has seen `table`
    on the route topic, as it sees the tables it publishes itself."""
    settings = DeployerSettings(home=home, kafka_bootstrap=bootstrap, deployer_group=f"bench-{table.route}",
                                deployer_tick_s=3600.0)
    service = deployer_bootstrap(settings)
    async with running(service), EventProducer(bootstrap) as producer:
        await producer.publish(new_event(RouteUpdated(route=table.route, table=table, revision=1), source="bench"))
        deadline = time.monotonic() + 60
        while not _knows(service.deployer.engine, table.route):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the deployer never saw the route table for {table.route}")
            await asyncio.sleep(0.05)
        await caught_up(service.consumers)
        yield


async def caught_up(consumers: list[Any], timeout: float = 120.0) -> None:
    """Until the consumers have read what the topics held (a new group starts at the beginning,
    here the ingest run's records): in production the deployer is not catching up on history
    while the monitor raises its alarm, and in this one process it would slow the monitor."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3 and time.monotonic() < deadline:
        lags = [c.lag() for c in consumers]
        quiet = quiet + 1 if any(lags) and not any(v for lag in lags for v in lag.values()) else 0
        await asyncio.sleep(0.2)


def _knows(engine: Engine, route: str) -> bool:
    with Session(engine) as s:
        return store.route_table(s, route) is not None

