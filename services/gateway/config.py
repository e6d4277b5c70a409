"""Gateway settings (env prefix CHALLENGER_GATEWAY_) on top of the shared ones."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _instance_id() -> str:
    # unique per process: each start replays route.updated from the earliest offset
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGER_GATEWAY_", extra="ignore")

    port: int = 8080
    # processes sharing the port, each applying every route update (its own consumer group)
    workers: int = Field(1, ge=1, le=64)
    instance: str = Field(default_factory=_instance_id)
    routes_file: Path | None = None
    # "on": the gateway refuses to start without a key; "off" (explicit): no authentication
    auth: Literal["on", "off"] = "on"
    # comma-separated "client:key" pairs or bare keys
    api_keys: str = ""
    # comma-separated "client:sha256-hex" or bare digests (preferred: see infra/gateway_keys.py)
    api_key_hashes: str = ""
    # rate limits per key, per minute (none by default); `rate_limits` overrides them per client:
    # "team-a=60/100000,batch=-/2000000" (requests/tokens, "-" for no limit)
    rate_limit_rpm: int | None = Field(None, ge=1)
    rate_limit_tpm: int | None = Field(None, ge=1)
    rate_limits: str = ""
    rate_limit_prefix: str = "challenger:ratelimit:"
    # empty: no Redis (no response cache; rate limits counted in-process)
    redis_url: str = Field("redis://127.0.0.1:6379/0",
                           validation_alias=AliasChoices("CHALLENGER_REDIS_URL", "CHALLENGER_GATEWAY_REDIS_URL",
                                                         "redis_url"))
    cache_prefix: str = "challenger:cache:"
    log_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    log_queue_size: int = Field(10_000, ge=1)
    # the Kafka producer waits this long to batch inference.logged events: one write per batch,
    # not one per request (make bench-gateway); feedback events wait as long at most
    log_linger_ms: int = Field(5, ge=0, le=1000)
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(2.0, gt=0)
    max_shadow_in_flight: int = Field(64, ge=0)
    subscribe: bool = True
