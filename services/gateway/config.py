"""Gateway settings (env prefix CHALLENGER_GATEWAY_) on top of the shared ones."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _instance_id() -> str:
    # unique per process: each start replays route.updated from the earliest offset
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGER_GATEWAY_", extra="ignore")

    port: int = 8080
    instance: str = Field(default_factory=_instance_id)
    routes_file: Path | None = None
    # comma-separated "client:key" pairs or bare keys; empty = no authentication
    api_keys: str = ""
    # comma-separated sha256 hex digests of keys (preferred in production)
    api_key_hashes: str = ""
    redis_url: str = Field("redis://127.0.0.1:6379/0",
                           validation_alias=AliasChoices("CHALLENGER_REDIS_URL", "CHALLENGER_GATEWAY_REDIS_URL",
                                                         "redis_url"))
    cache_prefix: str = "challenger:cache:"
    log_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    log_queue_size: int = Field(10_000, ge=1)
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(2.0, gt=0)
    max_shadow_in_flight: int = Field(64, ge=0)
    subscribe: bool = True
