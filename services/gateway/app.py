"""Wires the gateway: adapters, the route store, the FastAPI control endpoints and the
bare-ASGI proxy in front. `build_app` is the one place it is put together."""

from __future__ import annotations

import functools
import gc
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException

from schemas.events.deployments import TOPIC as DEPLOYMENTS
from schemas.events.deployments import RouteUpdated
from services.gateway.asgi import ProxyASGI
from services.gateway.auth import ApiKeys, check_auth_config
from services.gateway.cache import ResponseCache
from services.gateway.config import GatewaySettings
from services.gateway.domain.ratelimit import Limits, parse_limits
from services.gateway.handlers import FeedbackIn, UnknownRequest, on_route_updated, record_feedback
from services.gateway.inference_log import InferenceLog
from services.gateway.openapi import add_proxy_docs
from services.gateway.proxy import Gateway
from services.gateway.ratelimit import RateLimiter, build_limiter
from services.gateway.route_store import RouteStore
from services.gateway.upstream import Upstreams
from shared.runtime import ServiceContext, Subscription, configure_logging, service_app
from shared.settings import Settings


def build_gateway(gs: GatewaySettings, store: RouteStore, keys: ApiKeys, limiter: RateLimiter | None) -> Gateway:
    return Gateway(gs, store, Upstreams(timeout_s=gs.timeout_s, connect_timeout_s=gs.connect_timeout_s),
                   ResponseCache(gs.redis_url) if gs.redis_url else None, InferenceLog(gs.log_queue_size),
                   keys, limiter=limiter)


def rate_limits(gs: GatewaySettings) -> tuple[Limits, dict[str, Limits]]:
    """(the limits of every key, the per-client overrides); ValueError on a malformed spec."""
    return Limits(gs.rate_limit_rpm, gs.rate_limit_tpm), parse_limits(gs.rate_limits)


def build_app(settings: Settings | None = None, gs: GatewaySettings | None = None,
              store: RouteStore | None = None) -> ProxyASGI:
    gs = gs or GatewaySettings()
    store = store or RouteStore()
    if gs.routes_file is not None:
        store.load_file(gs.routes_file)
    api = FastAPI(title="challenger-gateway")
    keys = check_auth_config(gs.auth, ApiKeys.from_config(gs.api_keys, gs.api_key_hashes))
    default_limits, client_limits = rate_limits(gs)

    async def wire(ctx: ServiceContext) -> list[Subscription]:
        limiter = build_limiter(default_limits, client_limits, gs.redis_url, gs.rate_limit_prefix)
        gateway = build_gateway(gs, store, keys, limiter)
        gateway.log.start(ctx.producer)
        api.state.gateway = gateway
        # everything built so far lives as long as the process: out of the collector's sight,
        # a full collection scans only what requests allocate (fewer multi-ms pauses at p99)
        gc.freeze()
        if not gs.subscribe:
            return []
        handler = functools.partial(on_route_updated, store=store)
        return [Subscription([DEPLOYMENTS], f"gateway-{gs.instance}", handler, types={RouteUpdated.event_type})]

    async def stop(ctx: ServiceContext) -> None:
        gateway: Gateway = api.state.gateway
        await gateway.close()
        await gateway.log.stop()
        await gateway.upstreams.close()
        if gateway.cache is not None:
            await gateway.cache.close()
        if gateway.limiter is not None:
            await gateway.limiter.close()

    app = service_app("gateway", wire, settings, app=api, on_stop=stop, producer_linger_ms=gs.log_linger_ms)
    _add_control_routes(app, store, keys)
    add_proxy_docs(app)
    return ProxyASGI(app)


WORKER_APP = "services.gateway.app:worker_app"


def worker_app() -> ProxyASGI:
    """One worker's app when CHALLENGER_GATEWAY_WORKERS > 1, built in the worker process: its
    own settings, hence its own instance id and consumer group `gateway-<instance>`, so every
    worker reads every route.updated (and each its own Kafka producer for the log)."""
    configure_logging()
    return build_app(gs=GatewaySettings())


def _add_control_routes(app: FastAPI, store: RouteStore, keys: ApiKeys) -> None:
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
        gateway: Gateway = app.state.gateway
        try:
            event = await record_feedback(body, request_routes=gateway.request_routes,
                                          producer=app.state.ctx.producer)
        except UnknownRequest as exc:
            raise HTTPException(404, str(exc)) from exc
        return {"status": "recorded", "route": event.route, "request_id": event.request_id}
