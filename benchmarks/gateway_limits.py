"""`make bench-gateway-limits`: what keys and per-key rate limits add to the gateway's
request path, per request, in CPU and wall time: `Gateway.handle` in this process with an
upstream that answers at once (so only the gateway's own work is timed), auth off vs three
keys vs keys + limits counted in-process vs in Redis (CHALLENGER_REDIS_URL, 127.0.0.1:6379).
A Redis GET of the response cache is timed beside it for scale.

Run: python -m benchmarks.gateway_limits [--requests 5000 --rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.events.deployments import RouteTable, RouteTarget
from services.gateway.adapters.cache import ResponseCache
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.ratelimit import RateLimiter, RedisCounters
from services.gateway.adapters.route_store import RouteStore
from services.gateway.adapters.upstream import UpstreamReply
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import ApiKeys
from services.gateway.domain.ratelimit import Limits
from services.gateway.handlers.proxy import Gateway

REDIS_URL = os.environ.get("CHALLENGER_REDIS_URL", "redis://127.0.0.1:6379/0")
NO_LIMIT_REACHED = Limits(rpm=10**9, tpm=10**12)
ANSWER = json.dumps({"choices": [{"message": {"role": "assistant", "content": "hi"}}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode()
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello"}]}).encode()
KEYS = "a:sk-a,b:sk-b,c:sk-c"


class InstantUpstream:
    async def call(self, target: Any, kind: str, body: bytes, meta: Any, timeout_s: float | None = None) -> Any:
        return UpstreamReply(200, ANSWER, "application/json")


def gateway(auth: bool, limiter: RateLimiter | None) -> Gateway:
    store = RouteStore()
    store.apply(RouteTable(route="bench", targets=[RouteTarget(candidate_id="c", url="http://c", model="m")]), 1)
    keys = ApiKeys.from_config(KEYS, "") if auth else ApiKeys.off()
    return Gateway(GatewaySettings(gateway_subscribe=False, gateway_log_sample_rate=0.0), store, InstantUpstream(),  # type: ignore[arg-type]
                   None, InferenceLog(10), keys, limiter=limiter)


VARIANTS: dict[str, Callable[[], Gateway]] = {
    "auth off": lambda: gateway(False, None),
    "3 keys, no limits": lambda: gateway(True, None),
    "3 keys + limits, in-process": lambda: gateway(True, RateLimiter(NO_LIMIT_REACHED, {}, None)),
    "3 keys + limits, Redis": lambda: gateway(True, RateLimiter(
        NO_LIMIT_REACHED, {}, RedisCounters(REDIS_URL, f"bench-{uuid.uuid4().hex[:8]}:"))),
}


async def per_call(call: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call, after a warm-up."""
    for _ in range(200):
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await call()
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def run(requests: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in [*VARIANTS, "cache GET (for scale)"]}
    headers = {"authorization": "Bearer sk-c"}
    for _ in range(rounds):
        for name, make in VARIANTS.items():
            gw = make()
            results[name].append(await per_call(lambda gw=gw: gw.handle("chat", BODY, headers), requests))
            if gw.limiter is not None:
                await gw.limiter.close()
        cache = ResponseCache(REDIS_URL)
        results["cache GET (for scale)"].append(await per_call(lambda c=cache: c.get("bench-missing"), requests))
        await cache.close()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    results = asyncio.run(run(args.requests, args.rounds))
    base = statistics.median(cpu for cpu, _ in results["auth off"])
    print(f"| variant | CPU µs per request (median of {args.rounds}) | added CPU µs | wall µs per request |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        cpu, wall = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        added = f"{cpu - base:+.1f}" if "GET" not in name else "-"
        print(f"| {name} | {cpu:.1f} | {added} | {wall:.1f} |")


if __name__ == "__main__":
    main()
