"""The load tester's wiring: one consumer of loadtest.requested, deduplicated by loadtest id in
the kit's file inbox, a duplicate answered again from its stored reply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from schemas.events.loadtests import LoadtestRequested
from services.loadtester.handlers import Deps, Measure, measure, on_requested
from shared.kit.inbox import FileInbox
from shared.kit.service import Consumes, Service, new_bus
from shared.settings import Settings

NAME = "loadtester"
GROUP = NAME


@dataclass
class LoadtesterAdapters:
    """The port: what measures a sweep against an endpoint (tests pass a scripted one)."""

    measure: Measure = measure


@dataclass(kw_only=True)
class LoadtesterService(Service):
    name: ClassVar[str] = NAME
    deps: Deps
    group: str = GROUP

    def consumes(self) -> Sequence[Consumes]:
        """Keyed by loadtest id: a repeated request is the same load test, whatever its event id."""
        return [Consumes(self.group, {LoadtestRequested: partial(on_requested, deps=self.deps)},
                         dedup_key=lambda request: request.data.loadtest_id,
                         replay={LoadtestRequested: self.deps.replies.replay})]


def bootstrap(settings: Settings, adapters: LoadtesterAdapters | None = None, *,
              group: str = GROUP) -> LoadtesterService:
    adapters = adapters or LoadtesterAdapters()
    bus = new_bus(settings, NAME)
    return LoadtesterService(settings=settings, bus=bus, inbox=FileInbox(settings.home / "inbox" / NAME),
                             deps=Deps(bus, settings.reports_dir, adapters.measure), group=group)
