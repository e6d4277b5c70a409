"""Rate limits per API key: the counters behind `domain.ratelimit`, in Redis when the
gateway has one (every replica shares them), in-process otherwise or while Redis is down.

Per request: one Redis round trip (a pipeline that counts the request and reads the other
counters). Undoing a refused request's count and adding an answer's tokens happen in the
background, off the request's path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.gateway.domain.ratelimit import ALLOW, WINDOW_S, Counts, Decision, Limits, decide, window_of

log = logging.getLogger(__name__)

RETRY_REDIS_S = 5.0


class Counters(Protocol):
    async def count_request(self, client: str, window: int) -> Counts: ...
    async def add(self, client: str, window: int, requests: int, tokens: int) -> None: ...


class MemoryCounters:
    """One process's counters: {(client, window): [requests, tokens]}, two windows per client."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}

    def _slot(self, client: str, window: int) -> list[int]:
        slot = self._counts.get((client, window))
        if slot is None:
            slot = self._counts[(client, window)] = [0, 0]
            self._counts.pop((client, window - 2), None)  # nothing reads a window that old again
        return slot

    async def count_request(self, client: str, window: int) -> Counts:
        slot = self._slot(client, window)
        slot[0] += 1
        prev = self._counts.get((client, window - 1), (0, 0))
        return Counts(prev[0], slot[0], prev[1], slot[1])

    async def add(self, client: str, window: int, requests: int, tokens: int) -> None:
        slot = self._slot(client, window)
        slot[0] += requests
        slot[1] += tokens


class RedisCounters:
    """The same counters as a Redis hash per client and window (fields r and t), expiring
    after two windows."""

    def __init__(self, url: str, prefix: str, *, timeout_s: float = 0.25) -> None:
        self._redis = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._prefix = prefix

    def _key(self, client: str, window: int) -> str:
        return f"{self._prefix}{client}:{window}"

    async def count_request(self, client: str, window: int) -> Counts:
        current, prev = self._key(client, window), self._key(client, window - 1)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(current, "r", 1)
            pipe.hget(current, "t")
            pipe.hmget(prev, "r", "t")
            pipe.expire(current, 2 * WINDOW_S)
            requests, tokens, (prev_requests, prev_tokens), _ = await pipe.execute()
        return Counts(int(prev_requests or 0), int(requests), int(prev_tokens or 0), int(tokens or 0))

    async def add(self, client: str, window: int, requests: int, tokens: int) -> None:
        key = self._key(client, window)
        async with self._redis.pipeline(transaction=False) as pipe:
            if requests:
                pipe.hincrby(key, "r", requests)
            if tokens:
                pipe.hincrby(key, "t", tokens)
            pipe.expire(key, 2 * WINDOW_S)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    def __init__(self, default: Limits, per_client: dict[str, Limits], redis_counters: RedisCounters | None,
                 *, clock: Callable[[], float] = time.time) -> None:
        self._default = default
        self._per_client = per_client
        self._redis = redis_counters
        self._memory = MemoryCounters()
        self._clock = clock
        self._redis_down_until = 0.0
        self._background: set[asyncio.Task[Any]] = set()

    def limits(self, client: str) -> Limits:
        return self._per_client.get(client, self._default)

    async def admit(self, client: str) -> Decision:
        """Count one request of `client` and decide; a refused request is not counted."""
        limits = self.limits(client)
        if not limits.any:
            return ALLOW
        window, elapsed = window_of(self._clock())
        counters = self._counters()
        try:
            counts = await counters.count_request(client, window)
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            counters = self._memory
            counts = await counters.count_request(client, window)
        decision = decide(limits, counts, elapsed)
        if not decision.allowed:
            self._spawn(counters, client, window, requests=-1, tokens=0)
        return decision

    def spend(self, client: str, tokens: int) -> None:
        """Add an answer's tokens to `client`'s current window (in the background)."""
        if tokens > 0 and self.limits(client).tpm is not None:
            self._spawn(self._counters(), client, window_of(self._clock())[0], requests=0, tokens=tokens)

    def _counters(self) -> Counters:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            return self._redis
        return self._memory

    def _redis_failed(self, exc: BaseException) -> None:
        if time.monotonic() >= self._redis_down_until:
            log.warning("rate limits: Redis unavailable (%s); counting in this process for %.0fs", exc,
                        RETRY_REDIS_S)
        self._redis_down_until = time.monotonic() + RETRY_REDIS_S

    def _spawn(self, counters: Counters, client: str, window: int, *, requests: int, tokens: int) -> None:
        task = asyncio.create_task(self._add(counters, client, window, requests, tokens))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _add(self, counters: Counters, client: str, window: int, requests: int, tokens: int) -> None:
        try:
            await counters.add(client, window, requests, tokens)
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            await self._memory.add(client, window, requests, tokens)

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=2)
        if self._redis is not None:
            await self._redis.close()


def build_limiter(default: Limits, per_client: dict[str, Limits], redis_url: str, prefix: str) -> RateLimiter | None:
    """None when no key has a limit: the request path then skips rate limiting entirely."""
    if not default.any and not any(limits.any for limits in per_client.values()):
        return None
    return RateLimiter(default, per_client, RedisCounters(redis_url, prefix) if redis_url else None)
