"""How every service process runs: a FastAPI app with /health and /metrics whose lifespan
starts the shared producer and the service's consumer loops. One shape for all services,
so the stack launcher, Kubernetes probes and tests treat them alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.bus.consumer import BatchHandler, EventConsumer, Handler
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.settings import Settings
from shared.telemetry import add_http_tracing, setup_tracing

log = logging.getLogger(__name__)


@dataclass
class Subscription:
    topics: Sequence[str]
    group_id: str
    handler: Handler
    types: set[str] | None = None
    batch_handler: BatchHandler | None = None  # a hot path: called once per fetched batch
    max_records: int = 100


@dataclass
class ServiceContext:
    """What a running service holds; handlers receive the parts they need."""

    name: str
    settings: Settings
    producer: EventProducer
    consumers: list[EventConsumer] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


Wire = Callable[[ServiceContext], Awaitable[list[Subscription]]]


def service_app(name: str, wire: Wire, settings: Settings | None = None, app: FastAPI | None = None,
                on_stop: Callable[[ServiceContext], Awaitable[None]] | None = None,
                producer_linger_ms: int = 0) -> FastAPI:
    """Build (or extend) the FastAPI app of service `name`; `wire` returns its subscriptions.
    `producer_linger_ms` lets a service that publishes an event per request batch them."""
    settings = settings or Settings()
    setup_tracing(name, settings.home)

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap)
        producer = EventProducer(settings.kafka_bootstrap, client_id=f"challenger-{name}",
                                 linger_ms=producer_linger_ms)
        await producer.start()
        ctx = ServiceContext(name, settings, producer)
        app_.state.ctx = ctx
        stop = asyncio.Event()
        subs = await wire(ctx)
        ctx.consumers = [EventConsumer(settings.kafka_bootstrap, s.topics, s.group_id, s.handler,
                                       dlq=producer, types=s.types, batch_handler=s.batch_handler,
                                       max_records=s.max_records, service=name) for s in subs]
        tasks = [asyncio.create_task(c.serve(stop)) for c in ctx.consumers]
        log.info("%s started with %d consumer(s)", name, len(tasks))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=5) if tasks else None
            for t in tasks:
                t.cancel()
            if on_stop is not None:
                await on_stop(ctx)
            await producer.stop()

    app = app or FastAPI(title=f"challenger-{name}")
    app.router.lifespan_context = lifespan
    add_http_tracing(app, name)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        ctx: ServiceContext | None = getattr(app.state, "ctx", None)
        consumers = {c.group_id: {"handled": c.handled, "dead_lettered": c.dead_lettered, "lag": c.lag()}
                     for c in (ctx.consumers if ctx else [])}
        return {"status": "ok", "service": name, "consumers": consumers}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Consumers refresh metadata every 5 s (to notice topics a restarted broker re-created), and
    # aiokafka logs each refresh at INFO: 12 identical lines a minute per consumer, burying the rest.
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)


def serve(app: FastAPI | str, port: int, host: str | None = None, *, workers: int = 1) -> None:
    """Run a service. The PORT env var overrides the service's default port (the stack
    launcher, compose and Kubernetes set it per process); CHALLENGER_BIND_HOST=0.0.0.0 in
    containers, loopback by default. With `workers` > 1, that many processes serve one port:
    uvicorn binds the socket here, before they start, and restarts a worker that dies; `app`
    is then the import string of a factory ("module:function") that each worker calls to
    build its own app (its own consumers and producer)."""
    import os

    import uvicorn

    port = int(os.environ.get("PORT", port))
    host = host or os.environ.get("CHALLENGER_BIND_HOST", "127.0.0.1")
    configure_logging()
    if workers > 1:
        uvicorn.run(app, host=host, port=port, workers=workers, factory=True, log_level="warning",
                    access_log=False)
    else:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
