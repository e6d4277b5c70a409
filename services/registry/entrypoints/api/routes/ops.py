"""/outbox: how many events wait for the broker, and what the relay has done (published, failed
sends, events sent again because the broker lost them, sent rows pruned after retention).
/consistency: the record against what every gateway serves (services.registry.domain.consistency)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.registry.api.deps import SessionDep
from services.registry.handlers.consistency import consistency
from shared import outbox

router = APIRouter(tags=["ops"])


@router.get("/outbox")
def outbox_status(request: Request) -> dict[str, Any]:
    ctx = getattr(request.app.state, "ctx", None)
    relay = ctx.state.get("relay") if ctx is not None else None
    return {"pending": outbox.pending_count(request.app.state.engine),
            "relay": None if relay is None else {"published": relay.published, "failures": relay.failures,
                                                 "replayed": relay.replayed, "pruned": relay.pruned}}


@router.get("/consistency")
def consistency_check(session: SessionDep, request: Request) -> dict[str, Any]:
    """Every mismatch between the registry's stages and champions and the live route tables of
    every gateway, in words (`problems`; `ok` when there is none), plus `notes`."""
    return consistency(session=session, settings=request.app.state.settings).as_dict()
