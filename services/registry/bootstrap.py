"""The registry's one wiring: `bootstrap()` opens (and migrates) its database, seeds the built-in
tasks, creates the first admin token, and returns the typed `RegistryService`. The kit runs it:
the outbox relay of its database, its inbox, and its two consumers. Tests call the same
function (with `RegistryAdapters` to hand it an engine or a producer of their own)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import EVENT_TYPES, Envelope
from schemas.catalogue import topic
from schemas.events import alerts, degradations, deployments, evaluations, loadtests, models, prompts
from services.registry.adapters.admin_token import write_admin_token
from services.registry.adapters.database import migrate_database, open_database
from services.registry.entrypoints.dashboard.feed import EventFeed
from services.registry.handlers.projections import CONSUMED_TYPES, dedup_key, handle_event
from services.registry.handlers.seed import seed_builtin_tasks
from services.registry.handlers.tokens import ensure_admin_token
from shared.bus.producer import EventProducer
from shared.kit.inbox import SqlInbox
from shared.kit.service import Consumes, Service, new_bus
from shared.settings import Settings

NAME = "registry"
GROUP = NAME  # the consumer group that applies events to the record
# The dashboard's live feed shows every event on these topics (alerts too, which change nothing).
FEED_TOPICS = (models.TOPIC, evaluations.TOPIC, loadtests.TOPIC, prompts.TOPIC, deployments.TOPIC,
               degradations.TOPIC, alerts.TOPIC)


@dataclass
class RegistryAdapters:
    """The registry's ports; None builds the real one from the settings."""

    engine: Engine | None = None  # migrated by bootstrap either way
    bus: EventProducer | None = None


@dataclass(kw_only=True)
class RegistryService(Service):
    """The system of record's running parts. `feed` is this instance's own: each instance reads
    every event into it through a consumer group of its own (`feed_group`)."""

    name: ClassVar[str] = NAME
    engine: Engine
    admin_token: str | None = None  # the first admin's token, when this start created it
    feed: EventFeed = field(default_factory=EventFeed)
    feed_group: str = field(default_factory=lambda: f"{NAME}-feed-{uuid.uuid4().hex[:8]}")

    def consumes(self) -> list[Consumes]:
        applied = dict.fromkeys((EVENT_TYPES[t] for t in sorted(CONSUMED_TYPES)), self.apply)
        shown = dict.fromkeys((cls for name in FEED_TOPICS for cls in topic(name).events), self.show)
        # The feed dedupes by event id in memory: a mark per instance and event in the database
        # would outlive the instance and its random group.
        return [Consumes(GROUP, applied, dedup_key=dedup_key), Consumes(self.feed_group, shown, dedup_key=None)]

    async def apply(self, envelope: Envelope[Any]) -> None:
        await asyncio.to_thread(handle_event, self.engine, envelope, self.settings.home)

    async def show(self, envelope: Envelope[Any]) -> None:
        self.feed.add(envelope)


def bootstrap(settings: Settings, adapters: RegistryAdapters | None = None) -> RegistryService:
    """Migrate the database, seed the built-in tasks, create the first admin token (written to
    $CHALLENGER_HOME/admin-token, mode 600, so the stack launcher can print it once and the CLI
    can use it), and build the service. Nothing connects to Kafka until the kit runs it."""
    adapters = adapters or RegistryAdapters()
    engine = open_database(settings.db_url) if adapters.engine is None else migrate_database(adapters.engine)
    with Session(engine) as session:
        seed_builtin_tasks(session, settings.home)
        token = ensure_admin_token(session)
    if token is not None:
        write_admin_token(settings, token)
    return RegistryService(settings=settings, bus=adapters.bus or new_bus(settings, NAME), inbox=SqlInbox(engine),
                           outbox=engine, engine=engine, admin_token=token)
