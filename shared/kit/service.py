"""The service kit: how every Challenger service is built and run.

Each service has ONE `bootstrap(settings, adapters) -> <Name>Service` (in its `bootstrap.py`)
that builds a typed `Service`: its settings, its producer (`bus`), its inbox, its outbox
database, and its own parts as typed fields, with no string-keyed state. The service says what
it consumes as an explicit table from event type to handler (`Consumes`) and which loops run
beside the consumers (`background`). `http_app` runs it behind FastAPI with /health and
/metrics; the kit, not the service, starts the producer, the outbox relay (when the service
has an outbox), the inbox's pruning, the consumers and the loops, and stops them in reverse.
Tests call the same `bootstrap` with fakes or local parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Engine

from schemas import Envelope, EventData
from shared.bus.consumer import BatchHandler, DedupKey, EventConsumer, Handler, Rebalance, by_event_id
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.kit.inbox import Inbox
from shared.outbox import OutboxRelay
from shared.settings import Settings
from shared.telemetry import add_http_tracing, setup_tracing

log = logging.getLogger(__name__)
Loop = Callable[[asyncio.Event], Awaitable[None]]  # runs until the event is set
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Consumes:
    """One consumer group: each event type it handles, with its handler.

    `dedup_key` names what the inbox remembers (the event id by default, or a business id).
    It may return None for event types whose domain dedupes them itself (high-volume traffic
    counted by request id). `dedup_key=None` opts the whole group out of the inbox: a hot
    stream deduplicated by its own domain, handled by `batch` once per fetched batch
    (`handlers` then serve the one-by-one retry of a failed batch). `replay` is what a
    request/reply service does with a duplicate command, per event type: answer again from its
    stored reply (shared.kit.replies), not redo the work. `rebalance` is told when the group
    moves partitions to or from this instance (state kept per partition: the monitor's windows)."""

    group: str
    handlers: Mapping[type[EventData], Handler]
    dedup_key: DedupKey | None = by_event_id
    batch: BatchHandler | None = None
    max_records: int = 100
    replay: Mapping[type[EventData], Handler] = field(default_factory=dict)
    rebalance: Rebalance | None = None

    @cached_property
    def _by_type(self) -> dict[str, Handler]:
        return {cls.event_type: handler for cls, handler in self.handlers.items()}  # type: ignore[attr-defined]

    @cached_property
    def _replay_by_type(self) -> dict[str, Handler]:
        return {cls.event_type: handler for cls, handler in self.replay.items()}  # type: ignore[attr-defined]

    @property
    def types(self) -> set[str]:
        return set(self._by_type)

    @property
    def topics(self) -> list[str]:
        return sorted({cls.topic for cls in self.handlers})  # type: ignore[attr-defined]

    async def dispatch(self, envelope: Envelope[Any]) -> None:
        await self._by_type[envelope.type](envelope)

    async def redispatch(self, envelope: Envelope[Any]) -> None:
        """A duplicate: its type's `replay`, if it has one; else nothing (it was handled)."""
        if (answer := self._replay_by_type.get(envelope.type)) is not None:
            await answer(envelope)


@dataclass(kw_only=True)
class Service:
    """A service's parts. Subclasses add typed fields and override the hooks below."""

    name: ClassVar[str]
    settings: Settings
    bus: EventProducer
    inbox: Inbox | None = None
    outbox: Engine | None = None  # this database's outbox is relayed to Kafka by the kit
    consumers: list[EventConsumer] = field(default_factory=list, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)  # while running with an outbox (its counters)

    def consumes(self) -> Sequence[Consumes]:
        return ()

    def background(self) -> Sequence[Loop]:
        return ()

    async def start(self) -> None:
        """After the producer is up, before consumers and loops start (restore state here)."""

    async def close(self) -> None:
        """After consumers and loops stopped: release what the service opened."""

    def health(self) -> dict[str, Any]:
        return {c.group_id: {"handled": c.handled, "deduplicated": c.deduplicated,
                             "dead_lettered": c.dead_lettered, "lag": c.lag()} for c in self.consumers}


def new_bus(settings: Settings, name: str, *, linger_ms: int = 0) -> EventProducer:
    return EventProducer(settings.kafka_bootstrap, client_id=f"challenger-{name}", linger_ms=linger_ms)


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[Service]:
    """Run `service`: producer, relay, consumers, loops; all stopped when the block exits."""
    settings = service.settings
    await ensure_topics(settings.kafka_bootstrap)
    await service.bus.start()
    stop = asyncio.Event()
    loops: list[Loop] = []
    if service.outbox is not None:
        service.relay = OutboxRelay(service.outbox, service.bus, bootstrap=settings.kafka_bootstrap,
                                    retention_s=settings.outbox_retention_s)
        loops.append(service.relay.run)
    if service.inbox is not None:
        loops.append(_pruning(service.inbox, settings.inbox_retention_s))
    tasks: list[asyncio.Task[None]] = []
    try:
        await service.start()
        service.consumers = [_consumer(service, c) for c in service.consumes()]
        tasks = [asyncio.create_task(c.serve(stop)) for c in service.consumers]
        tasks += [asyncio.create_task(loop(stop)) for loop in (*loops, *service.background())]
        log.info("%s started: %d consumer(s), %d loop(s)", service.name, len(service.consumers),
                 len(tasks) - len(service.consumers))
        yield service
    finally:
        stop.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await service.close()
        await service.bus.stop()


def _consumer(service: Service, c: Consumes) -> EventConsumer:
    return EventConsumer(service.settings.kafka_bootstrap, c.topics, c.group, c.dispatch, dlq=service.bus,
                         types=c.types, batch_handler=c.batch, max_records=c.max_records, service=service.name,
                         inbox=service.inbox if c.dedup_key is not None else None,
                         dedup_key=c.dedup_key or by_event_id, on_duplicate=c.redispatch if c.replay else None,
                         rebalance=c.rebalance)


def _pruning(inbox: Inbox, retention_s: float) -> Loop:
    async def prune(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if gone := await asyncio.to_thread(inbox.prune, retention_s):
                    log.info("inbox: forgot %d event(s) handled more than %.0f s ago", gone, retention_s)
            except Exception:  # a pruning failure must not stop the service
                log.exception("inbox pruning failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY_S)

    return prune


def http_app(service: Service, app: FastAPI | None = None) -> FastAPI:
    """Serve `service` with FastAPI: `app` (its own routes, if any) gains the lifespan that runs
    the service, plus /health and /metrics. `app.state.service` is the typed service."""
    setup_tracing(service.name, service.settings.home)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(service):
            yield

    app = app or FastAPI(title=f"challenger-{service.name}")
    app.router.lifespan_context = lifespan
    app.state.service = service
    add_http_tracing(app, service.name)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": service.name, "consumers": service.health()}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
