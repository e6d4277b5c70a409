"""Wiring: ONE bootstrap() builds the registry's parts; create_app() serves them over HTTP and
runs the outbox relay and the event consumer beside the API. Tests reuse both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import Envelope
from schemas.events import alerts, degradations, deployments, evaluations, loadtests, models, prompts
from services.registry.adapters.database import open_database
from services.registry.api.errors import install_error_handlers
from services.registry.api.main import api_router
from services.registry.dashboard.feed import EventFeed
from services.registry.dashboard.routes import router as dashboard_router
from services.registry.handlers.projections import CONSUMED_TYPES, handle_event
from services.registry.handlers.seed import seed_builtin_tasks
from services.registry.handlers.tokens import ensure_admin_token
from shared.body_limit import BodySizeLimit
from shared.outbox import OutboxRelay
from shared.runtime import ServiceContext, Subscription, service_app
from shared.settings import Settings

log = logging.getLogger(__name__)

NAME = "registry"
DEFAULT_PORT = 8000
CONSUMED_TOPICS = (models.TOPIC, evaluations.TOPIC, loadtests.TOPIC, prompts.TOPIC, deployments.TOPIC,
                   degradations.TOPIC)
FEED_TOPICS = (*CONSUMED_TOPICS, alerts.TOPIC)


def port() -> int:
    return int(os.environ.get("CHALLENGER_REGISTRY_PORT", DEFAULT_PORT))


def admin_token_path(settings: Settings) -> Path:
    return settings.home / "admin-token"


@dataclass
class Registry:
    settings: Settings
    engine: Engine
    admin_token: str | None


def bootstrap(settings: Settings, *, seed: bool = True) -> Registry:
    """Open (and migrate) the database, seed the built-in tasks, create the first admin token.

    A new admin token is written to $CHALLENGER_HOME/admin-token (mode 600) so the stack
    launcher can print it once and the CLI can use it."""
    engine = open_database(settings.db_url)
    with Session(engine) as session:
        if seed:
            seed_builtin_tasks(session, settings.home)
        token = ensure_admin_token(session)
    if token is not None:
        _write_secret(admin_token_path(settings), token)
    return Registry(settings, engine, token)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(value + "\n")


def create_api(registry: Registry) -> FastAPI:
    """The HTTP API alone (no Kafka): what the lifespan-free tests and the benchmark use."""
    app = FastAPI(title="Challenger registry", version="1",
                  description="System of record for candidates, tasks, datasets, prompts and results.")
    app.state.engine = registry.engine
    app.state.settings = registry.settings
    app.state.feed = EventFeed()
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(dashboard_router)
    app.add_middleware(BodySizeLimit, max_bytes=registry.settings.max_body_bytes)
    return app


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = registry or bootstrap(settings)
    api = create_api(registry)
    return service_app(NAME, _wire(registry, api.state.feed), settings, app=api, on_stop=_stop_relay)


def _wire(registry: Registry, feed: EventFeed):  # type: ignore[no-untyped-def]
    async def wire(ctx: ServiceContext) -> list[Subscription]:
        relay = OutboxRelay(registry.engine, ctx.producer, bootstrap=ctx.settings.kafka_bootstrap,
                            retention_s=ctx.settings.outbox_retention_s)
        stop = asyncio.Event()
        ctx.state.update(relay=relay, relay_stop=stop, relay_task=asyncio.create_task(relay.run(stop)))

        async def on_event(envelope: Envelope[Any]) -> None:
            await asyncio.to_thread(handle_event, registry.engine, envelope, registry.settings.home)

        async def on_feed(envelope: Envelope[Any]) -> None:
            feed.add(envelope)

        # Each registry instance keeps its own feed of recent events for the dashboard.
        return [Subscription(CONSUMED_TOPICS, NAME, on_event, types=set(CONSUMED_TYPES)),
                Subscription(FEED_TOPICS, f"{NAME}-feed-{uuid.uuid4().hex[:8]}", on_feed)]

    return wire


async def _stop_relay(ctx: ServiceContext) -> None:
    ctx.state["relay_stop"].set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ctx.state["relay_task"], timeout=5)
