"""The evaluator's engine calls: the one engine client (`shared.engines.client`), which is
pooled over aiohttp for exactly this workload (64 calls in flight; see its docstring).

`PooledEngine` is the name the evaluator's callers still use: an `EngineClient` built from
another client's endpoint and protocol, with no limit on its pool (the evaluator bounds
concurrency per endpoint itself). New code builds an `EngineClient` directly.
"""

from __future__ import annotations

from shared.engines.client import EngineClient
from shared.engines.retry import RetryPolicy


class PooledEngine(EngineClient):
    def __init__(self, client: EngineClient, *, api_key_env: str | None = None, timeout_s: float = 60.0,
                 retries: int = 2) -> None:
        super().__init__(client.base_url, client.model, protocol=client.protocol, api_key_env=api_key_env,
                         timeout_s=timeout_s, retry=RetryPolicy(retries=retries), max_connections=0)
