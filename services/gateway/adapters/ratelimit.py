"""Rate limits per API key: the counters behind `domain.ratelimit`, in Redis when the
gateway has one (every replica shares them), in-process otherwise or while Redis is down.

Per request: one Redis command (a Lua script that counts the request and reads the other
counters, atomically). What is added later (an answer's tokens, the undo of a refused
request's count) is gathered in memory and sent in one pipeline every FLUSH_S, off the
requests' path; other replicas see those tokens at most FLUSH_S late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.gateway.domain.ratelimit import ALLOW, WINDOW_S, Counts, Decision, Limits, decide, window_of

log = logging.getLogger(__name__)

RETRY_REDIS_S = 5.0
FLUSH_S = 0.2

# KEYS: the current window's hash, the previous one's. ARGV: the expiry. Returns the counts.
COUNT_REQUEST = """
local r = redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
local t = redis.call('HGET', KEYS[1], 't')
local p = redis.call('HMGET', KEYS[2], 'r', 't')
return {r, tonumber(t) or 0, tonumber(p[1]) or 0, tonumber(p[2]) or 0}
"""

Slot = tuple[str, int]  # (client, window)


class MemoryCounters:
    """One process's counters: {(client, window): [requests, tokens]}, two windows per client."""

    def __init__(self) -> None:
        self._counts: dict[Slot, list[int]] = {}

    def _slot(self, client: str, window: int) -> list[int]:
        slot = self._counts.get((client, window))
        if slot is None:
            slot = self._counts[(client, window)] = [0, 0]
            self._counts.pop((client, window - 2), None)  # nothing reads a window that old again
        return slot

    def count_request(self, client: str, window: int) -> Counts:
        slot = self._slot(client, window)
        slot[0] += 1
        prev = self._counts.get((client, window - 1), (0, 0))
        return Counts(prev[0], slot[0], prev[1], slot[1])

    def add(self, client: str, window: int, requests: int, tokens: int) -> None:
        slot = self._slot(client, window)
        slot[0] += requests
        slot[1] += tokens


class RedisCounters:
    """The same counters as a Redis hash per client and window (fields r and t), expiring
    after two windows. The client name is a hash tag, so a key's windows share a cluster slot."""

    def __init__(self, url: str, prefix: str, *, timeout_s: float = 0.25) -> None:
        self._redis = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._prefix = prefix
        self._count_request = self._redis.register_script(COUNT_REQUEST)

    def _key(self, client: str, window: int) -> str:
        return f"{self._prefix}{{{client}}}:{window}"

    async def count_request(self, client: str, window: int) -> Counts:
        keys = [self._key(client, window), self._key(client, window - 1)]
        requests, tokens, prev_requests, prev_tokens = await self._count_request(keys=keys, args=[2 * WINDOW_S])
        return Counts(int(prev_requests), int(requests), int(prev_tokens), int(tokens))

    async def add_many(self, deltas: dict[Slot, list[int]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for (client, window), (requests, tokens) in deltas.items():
                key = self._key(client, window)
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
        self._pending: dict[Slot, list[int]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def limits(self, client: str) -> Limits:
        return self._per_client.get(client, self._default)

    async def admit(self, client: str) -> Decision:
        """Count one request of `client` and decide; a refused request is not counted."""
        limits = self.limits(client)
        if not limits.any:
            return ALLOW
        window, elapsed = window_of(self._clock())
        counts = None
        if self._use_redis():
            try:
                counts = await self._redis.count_request(client, window)  # type: ignore[union-attr]
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        if counts is None:
            counts = self._memory.count_request(client, window)
        decision = decide(limits, counts, elapsed)
        if not decision.allowed:
            self._add(client, window, -1, 0)
        return decision

    def spend(self, client: str, tokens: int) -> None:
        """Add an answer's tokens to `client`'s current window."""
        if tokens > 0 and self.limits(client).tpm is not None:
            self._add(client, window_of(self._clock())[0], 0, tokens)

    def _add(self, client: str, window: int, requests: int, tokens: int) -> None:
        if not self._use_redis():
            self._memory.add(client, window, requests, tokens)
            return
        slot = self._pending.setdefault((client, window), [0, 0])
        slot[0] += requests
        slot[1] += tokens
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            await self._flush()

    async def _flush(self) -> None:
        deltas, self._pending = self._pending, {}
        if not deltas:
            return
        try:
            await self._redis.add_many(deltas)  # type: ignore[union-attr]
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            for (client, window), (requests, tokens) in deltas.items():
                self._memory.add(client, window, requests, tokens)

    def _use_redis(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def _redis_failed(self, exc: BaseException) -> None:
        if time.monotonic() >= self._redis_down_until:
            log.warning("rate limits: Redis unavailable (%s); counting in this process for %.0fs", exc,
                        RETRY_REDIS_S)
        self._redis_down_until = time.monotonic() + RETRY_REDIS_S

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._redis is not None:
            await self._flush()
            await self._redis.close()


def build_limiter(default: Limits, per_client: dict[str, Limits], redis_url: str, prefix: str) -> RateLimiter | None:
    """None when no key has a limit: the request path then skips rate limiting entirely."""
    if not default.any and not any(limits.any for limits in per_client.values()):
        return None
    return RateLimiter(default, per_client, RedisCounters(redis_url, prefix) if redis_url else None)
