"""The Redis response cache adapter. Redis trouble never reaches a client: the lookup says
"bypass", one warning is logged per outage, and Redis is retried after a pause."""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0


class ResponseCache:
    def __init__(self, url: str, *, timeout_s: float = 0.25) -> None:
        self._redis = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._url = url
        self._down_until = 0.0
        self._down = False

    @property
    def available(self) -> bool:
        return not self._down or time.monotonic() >= self._down_until

    async def get(self, key: str) -> bytes | None:
        """The cached bytes; None on a miss. Raises CacheUnavailable when Redis is down."""
        if not self.available:
            raise CacheUnavailable()
        try:
            value = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            raise CacheUnavailable() from exc
        self._mark_up()
        return value

    async def put(self, key: str, value: bytes, ttl_s: int) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(key, value, ex=ttl_s)
        except (RedisError, OSError) as exc:
            self._mark_down(exc)

    async def close(self) -> None:
        await self._redis.aclose()

    def _mark_down(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("response cache: Redis at %s unavailable (%s); serving without cache", self._url, exc)
        self._down = True
        self._down_until = time.monotonic() + RETRY_AFTER_S

    def _mark_up(self) -> None:
        if self._down:
            log.info("response cache: Redis at %s is back", self._url)
        self._down = False


class CacheUnavailable(Exception):
    pass
