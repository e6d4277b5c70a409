"""Gateway settings: the shared ones plus the gateway's own, each named `gateway_<x>` so the
shared prefix gives it its env var CHALLENGER_GATEWAY_<X>. The port is not here: it comes from
shared.ports (CHALLENGER_GATEWAY_PORT, or PORT), as every service's does."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field

from shared.settings import Settings


def _instance_id() -> str:
    # unique per process: each start replays route.updated from the earliest offset
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class GatewaySettings(Settings):
    # processes sharing the port, each applying every route update (its own consumer group)
    gateway_workers: int = Field(1, ge=1, le=64)
    gateway_instance: str = Field(default_factory=_instance_id)
    gateway_routes_file: Path | None = None
    # "on": the gateway refuses to start without a key; "off" (explicit): no authentication
    gateway_auth: Literal["on", "off"] = "on"
    # comma-separated "client:key" pairs or bare keys
    gateway_api_keys: str = ""
    # comma-separated "client:sha256-hex" or bare digests (preferred: see infra/gateway_keys.py)
    gateway_api_key_hashes: str = ""
    # rate limits per key, per minute (none by default); `gateway_rate_limits` overrides them per
    # client: "team-a=60/100000,batch=-/2000000" (requests/tokens, "-" for no limit)
    gateway_rate_limit_rpm: int | None = Field(None, ge=1)
    gateway_rate_limit_tpm: int | None = Field(None, ge=1)
    gateway_rate_limits: str = ""
    gateway_rate_limit_prefix: str = "challenger:ratelimit:"
    # empty: no Redis (no response cache; rate limits counted in-process)
    gateway_redis_url: str = Field("redis://127.0.0.1:6379/0",
                                   validation_alias=AliasChoices("CHALLENGER_REDIS_URL", "CHALLENGER_GATEWAY_REDIS_URL",
                                                                 "gateway_redis_url"))
    gateway_cache_prefix: str = "challenger:cache:"
    gateway_log_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    gateway_log_queue_size: int = Field(10_000, ge=1)
    # the Kafka producer waits this long to batch inference.logged events: one write per batch,
    # not one per request (make bench-gateway); feedback events wait as long at most
    gateway_log_linger_ms: int = Field(5, ge=0, le=1000)
    gateway_timeout_s: float = Field(60.0, gt=0)
    gateway_connect_timeout_s: float = Field(2.0, gt=0)
    gateway_max_shadow_in_flight: int = Field(64, ge=0)
    gateway_subscribe: bool = True
