"""An independent client for `make bench-gateway`'s latency figures: aiohttp (its own HTTP
stack, connection pool and clock), concurrency 1, alternating a direct call and a proxied
call, the order swapped every round so neither side always goes first. Prints one JSON
object (milliseconds) on stdout; `benchmarks.gateway` runs it in a subprocess beside its
own raw-socket client and prints both, so a client artefact shows up as a disagreement.

Run: python -m benchmarks.gateway_client --direct URL --proxy URL [--stream] [-n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


def body(route: str, stream: bool, max_tokens: int) -> dict[str, object]:
    return {"model": route, "messages": [{"role": "user", "content": "say something short"}],
            "max_tokens": max_tokens, "temperature": 0.7, "stream": stream}


async def one(session: aiohttp.ClientSession, url: str, payload: dict[str, object],
              headers: dict[str, str]) -> tuple[float, float]:
    """(time to the first body bytes, time to the end of the body), seconds."""
    start = time.perf_counter()
    first = 0.0
    async with session.post(url + "/v1/chat/completions", json=payload, headers=headers) as resp:
        async for _ in resp.content.iter_any():
            first = first or time.perf_counter() - start
        if resp.status != 200:
            raise RuntimeError(f"{url} answered {resp.status}")
    return first, time.perf_counter() - start


async def measure(direct: str, proxy: str, n: int, payload: dict[str, object],
                  headers: dict[str, str]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {"direct": {"ttfb": [], "total": []}, "proxy": {"ttfb": [], "total": []}}
    # one keep-alive connection per side, as the raw client has
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as ds, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as ps:
        sides = [("direct", ds, direct), ("proxy", ps, proxy)]
        for i in range(n + max(5, n // 20)):
            for name, session, url in (sides if i % 2 == 0 else sides[::-1]):
                ttfb, total = await one(session, url, payload, headers)
                if i >= max(5, n // 20):  # after the warm-up rounds
                    out[name]["ttfb"].append(ttfb)
                    out[name]["total"].append(total)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--direct", required=True)
    p.add_argument("--proxy", required=True)
    p.add_argument("--stream", action="store_true")
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--route", default="bench")
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--api-key", default="sk-local-test")
    args = p.parse_args()
    samples = asyncio.run(measure(args.direct, args.proxy, args.n, body(args.route, args.stream, args.max_tokens),
                                  {"Authorization": f"Bearer {args.api_key}"}))
    print(json.dumps({side: {k: [v * 1000 for v in vs] for k, vs in d.items()} for side, d in samples.items()}))


if __name__ == "__main__":
    main()
