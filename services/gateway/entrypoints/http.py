"""The gateway over HTTP: the bare-ASGI proxy (`asgi.py`) in front of a FastAPI app that holds
the control routes, the proxied endpoints' documentation and the kit's /health and /metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException

from services.gateway.bootstrap import GatewayAdapters, GatewayService, bootstrap
from services.gateway.config import GatewaySettings
from services.gateway.entrypoints.asgi import ProxyASGI
from services.gateway.entrypoints.openapi import add_proxy_docs
from services.gateway.handlers.control import FeedbackIn, UnknownRequest, record_feedback
from shared.kit.serve import configure_logging
from shared.kit.service import http_app


def create_app(settings: GatewaySettings | None = None, adapters: GatewayAdapters | None = None) -> ProxyASGI:
    service = bootstrap(settings, adapters)
    app = http_app(service, FastAPI(title="challenger-gateway"))
    _add_control_routes(app, service)
    add_proxy_docs(app)
    return ProxyASGI(app, service)


WORKER_APP = "services.gateway.entrypoints.http:worker_app"


def worker_app() -> ProxyASGI:
    """One worker's app when CHALLENGER_GATEWAY_WORKERS > 1, built in the worker process: its
    own settings, hence its own instance id and consumer group `gateway-<instance>`, so every
    worker reads every route.updated (and each its own Kafka producer for the log)."""
    configure_logging()
    return create_app()


def _add_control_routes(app: FastAPI, service: GatewayService) -> None:
    keys, store = service.keys, service.store

    def authenticated(authorization: Annotated[str | None, Header()] = None) -> None:
        if keys.enabled and keys.client(authorization) is None:
            raise HTTPException(401, "missing or invalid API key: send 'Authorization: Bearer <key>'")

    auth = [Depends(authenticated)]

    @app.get("/routes", tags=["admin"], dependencies=auth)
    async def list_routes() -> list[dict[str, Any]]:
        return store.describe()

    @app.get("/v1/models", tags=["openai"], dependencies=auth)
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "challenger"}
                                           for name in store.routes]}

    @app.post("/v1/feedback", tags=["feedback"], status_code=202, dependencies=auth)
    async def feedback(body: FeedbackIn) -> dict[str, Any]:
        try:
            event = await record_feedback(body, request_routes=service.gateway.request_routes, producer=service.bus)
        except UnknownRequest as exc:
            raise HTTPException(404, str(exc)) from exc
        return {"status": "recorded", "route": event.route, "request_id": event.request_id}
