"""Handlers of the gateway's control inputs: routing-table events and user feedback."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from schemas import Envelope, new_event
from schemas.events.deployments import RouteUpdated
from schemas.events.inference import FeedbackReceived
from services.gateway.adapters.route_store import RouteStore
from shared.bus.producer import EventProducer

log = logging.getLogger(__name__)


async def on_route_updated(envelope: Envelope[Any], *, store: RouteStore) -> None:
    update: RouteUpdated = envelope.data
    if not store.apply_update(update):
        log.info("route %s revision %d ignored (not newer)", update.route, update.revision)


class FeedbackIn(BaseModel):
    request_id: str = Field(min_length=1, max_length=200)
    score: float = Field(ge=-1.0, le=1.0)
    label: str | None = Field(None, max_length=200)
    comment: str = Field("", max_length=4000)
    route: str | None = Field(None, min_length=1, max_length=200,
                              description="needed only when this gateway did not serve the request")


class UnknownRequest(LookupError):
    pass


async def record_feedback(feedback: FeedbackIn, *, request_routes: dict[str, str],
                          producer: EventProducer) -> FeedbackReceived:
    route = feedback.route or request_routes.get(feedback.request_id)
    if route is None:
        raise UnknownRequest(f"request {feedback.request_id!r} is unknown here; pass 'route' with the feedback")
    event = FeedbackReceived(request_id=feedback.request_id, route=route, score=feedback.score,
                             label=feedback.label, comment=feedback.comment)
    await producer.publish(new_event(event, source="challenger/gateway", subject=feedback.request_id))
    return event
