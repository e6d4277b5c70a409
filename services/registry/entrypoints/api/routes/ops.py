"""/outbox: how many events wait for the broker, and what the relay has done (published, failed
sends, events sent again because the broker lost them, sent rows pruned after retention).
/consistency: the record against what every gateway serves (services.registry.domain.consistency)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.registry.entrypoints.api.deps import RegistryDep, SessionDep
from services.registry.handlers.consistency import consistency
from shared import outbox

router = APIRouter(tags=["ops"])


@router.get("/outbox")
def outbox_status(registry: RegistryDep) -> dict[str, Any]:
    relay = registry.relay  # None when the routes are served without the kit running the service
    return {"pending": outbox.pending_count(registry.engine),
            "relay": None if relay is None else {"published": relay.published, "failures": relay.failures,
                                                 "replayed": relay.replayed, "pruned": relay.pruned}}


@router.get("/consistency")
def consistency_check(session: SessionDep, registry: RegistryDep) -> dict[str, Any]:
    """Every mismatch between the registry's stages and champions and the live route tables of
    every gateway, in words (`problems`; `ok` when there is none), plus `notes`."""
    return consistency(session=session, settings=registry.settings).as_dict()
