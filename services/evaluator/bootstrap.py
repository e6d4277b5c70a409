"""The evaluator's wiring: one consumer of evaluation.requested, deduplicated by evaluation id in
the kit's file inbox, a duplicate answered again from its stored reply."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from schemas.events.evaluations import EvaluationRequested
from services.evaluator.adapters.engines import Engines, engines_for
from services.evaluator.adapters.garak_runner import GarakRunner, garak_python
from services.evaluator.handlers.requested import Deps, handle_requested, replay_requested
from shared.kit.inbox import FileInbox
from shared.kit.service import Consumes, Service, new_bus
from shared.settings import Settings

NAME = "evaluator"
GROUP = f"challenger-{NAME}"


@dataclass
class EvaluatorAdapters:
    """The ports: the engines an evaluation calls and the garak scanner (tests pass local ones)."""

    engines: Callable[[EvaluationRequested], Engines] = engines_for
    garak: GarakRunner | None = None

    @classmethod
    def real(cls, settings: Settings) -> EvaluatorAdapters:
        return cls(engines_for, GarakRunner(garak_python(settings.home), settings.reports_dir / "garak"))


@dataclass(kw_only=True)
class EvaluatorService(Service):
    name: ClassVar[str] = NAME
    deps: Deps
    group: str = GROUP

    def consumes(self) -> Sequence[Consumes]:
        """Keyed by evaluation id: a repeated request is the same evaluation, whatever its event id."""
        return [Consumes(self.group, {EvaluationRequested: partial(handle_requested, deps=self.deps)},
                         dedup_key=lambda request: request.data.evaluation_id,
                         replay={EvaluationRequested: partial(replay_requested, deps=self.deps)})]


def bootstrap(settings: Settings, adapters: EvaluatorAdapters | None = None, *, group: str = GROUP) -> EvaluatorService:
    adapters = adapters or EvaluatorAdapters.real(settings)
    bus = new_bus(settings, NAME)
    deps = Deps(producer=bus, reports_dir=settings.reports_dir, blob_root=settings.home, engines=adapters.engines,
                garak=adapters.garak)
    return EvaluatorService(settings=settings, bus=bus, inbox=FileInbox(settings.home / "inbox" / NAME), deps=deps,
                            group=group)
