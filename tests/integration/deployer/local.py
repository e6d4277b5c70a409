"""The deployer built by its own `bootstrap` on a local database, with events handed to it the
way its consumers hand them (the group that subscribes to the type, through that group's inbox),
so the handlers run exactly as in the service, without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from schemas import Envelope
from services.deployer.adapters import store
from services.deployer.bootstrap import Adapters, DeployerService, bootstrap
from services.deployer.config import DeployerSettings
from shared.bus.consumer import EventConsumer
from shared.kit.service import _consumer  # the kit's own wiring of a Consumes, inbox included


class LocalDeployer:
    def __init__(self, db_url: str, home: Path, policy: Path | None = None) -> None:
        settings = DeployerSettings(home=home, deployer_policy=policy, gateway_url="http://127.0.0.1:8080")
        self.service: DeployerService = bootstrap(settings, Adapters(engine=store.open_database(db_url)))
        self.deployer = self.service.deployer
        self._consumers: dict[str, EventConsumer] = {}

    @property
    def engine(self) -> Engine:
        return self.deployer.engine

    def tick(self) -> int:
        return self.deployer.tick()

    async def handle(self, envelope: Envelope[Any]) -> None:
        [subscribed] = [c for c in self.service.consumes() if envelope.type in c.types]
        if subscribed.group not in self._consumers:
            self._consumers[subscribed.group] = _consumer(self.service, subscribed)
        error = await self._consumers[subscribed.group]._handle(envelope)  # noqa: SLF001
        assert error is None, error
