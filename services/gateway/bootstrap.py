"""Wires the gateway: its adapters (built from settings unless a test passes its own), the
request use case (`Gateway`) over them, and the route.updated consumer. `bootstrap` is the one
place it is put together; `entrypoints/http.py` serves what it returns."""

from __future__ import annotations

import functools
import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from schemas.events.deployments import RouteUpdated
from services.gateway.adapters.cache import ResponseCache
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.ratelimit import RateLimiter, build_limiter
from services.gateway.adapters.route_store import RouteStore
from services.gateway.adapters.upstream import Upstreams
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import ApiKeys, check_auth_config
from services.gateway.domain.ratelimit import Limits, parse_limits
from services.gateway.handlers.control import on_route_updated
from services.gateway.handlers.proxy import Gateway
from shared.kit.service import Consumes, Service, new_bus

NAME = "gateway"


@dataclass
class GatewayAdapters:
    """What the request path does I/O through. `real` builds them from settings; tests pass
    fakes or local parts instead."""

    store: RouteStore
    upstreams: Upstreams
    cache: ResponseCache | None
    log: InferenceLog
    limiter: RateLimiter | None

    @classmethod
    def real(cls, settings: GatewaySettings) -> GatewayAdapters:
        """ValueError on a malformed rate limit."""
        default, per_client = rate_limits(settings)
        redis_url = settings.gateway_redis_url
        upstreams = Upstreams(timeout_s=settings.gateway_timeout_s,
                              connect_timeout_s=settings.gateway_connect_timeout_s)
        return cls(store=RouteStore(), upstreams=upstreams, cache=ResponseCache(redis_url) if redis_url else None,
                   log=InferenceLog(settings.gateway_log_queue_size),
                   limiter=build_limiter(default, per_client, redis_url, settings.gateway_rate_limit_prefix))


def rate_limits(settings: GatewaySettings) -> tuple[Limits, dict[str, Limits]]:
    """(the limits of every key, the per-client overrides); ValueError on a malformed spec."""
    return (Limits(settings.gateway_rate_limit_rpm, settings.gateway_rate_limit_tpm),
            parse_limits(settings.gateway_rate_limits))


@dataclass(kw_only=True)
class GatewayService(Service):
    name: ClassVar[str] = NAME
    settings: GatewaySettings
    gateway: Gateway
    store: RouteStore
    keys: ApiKeys
    limiter: RateLimiter | None
    # the proxy answers once the inference log drains to a started producer; before, its
    # paths go to FastAPI, which says the gateway is still starting
    serving: bool = field(default=False, init=False)

    def consumes(self) -> Sequence[Consumes]:
        if not self.settings.gateway_subscribe:
            return ()
        # Every instance (every worker process) applies every route update, so each has its own
        # group. No inbox (dedup_key=None; the gateway has no database): the route store is
        # idempotent by revision, it ignores an update that is not newer than the live table.
        return [Consumes(f"gateway-{self.settings.gateway_instance}",
                         {RouteUpdated: functools.partial(on_route_updated, store=self.store)}, dedup_key=None)]

    async def start(self) -> None:
        self.gateway.log.start(self.bus)
        # everything built so far lives as long as the process: out of the collector's sight,
        # a full collection scans only what requests allocate (fewer multi-ms pauses at p99)
        gc.freeze()
        self.serving = True

    async def close(self) -> None:
        gateway = self.gateway
        await gateway.close()
        await gateway.log.stop()
        await gateway.upstreams.close()
        if gateway.cache is not None:
            await gateway.cache.close()
        if gateway.limiter is not None:
            await gateway.limiter.close()


def bootstrap(settings: GatewaySettings | None = None, adapters: GatewayAdapters | None = None) -> GatewayService:
    """The gateway, not started yet. ValueError (AuthConfigError among them) when its settings
    do not allow it to start: no API keys without an explicit AUTH=off, a malformed rate limit."""
    settings = settings or GatewaySettings()
    keys = check_auth_config(settings.gateway_auth,
                             ApiKeys.from_config(settings.gateway_api_keys, settings.gateway_api_key_hashes))
    adapters = adapters or GatewayAdapters.real(settings)
    if settings.gateway_routes_file is not None:
        adapters.store.load_file(settings.gateway_routes_file)
    gateway = Gateway(settings, adapters.store, adapters.upstreams, adapters.cache, adapters.log, keys,
                      limiter=adapters.limiter)
    return GatewayService(settings=settings, bus=new_bus(settings, NAME, linger_ms=settings.gateway_log_linger_ms),
                          gateway=gateway, store=adapters.store, keys=keys, limiter=adapters.limiter)
