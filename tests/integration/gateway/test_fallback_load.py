"""200 concurrent streams through a real gateway process while the primary fails, and the
route falls back: no client request fails. A stream whose upstream is killed after its
first byte reached the client cannot be replayed (the client already has part of the
answer); it must end with an OpenAI-style SSE `error` event in a well-formed response, and
is counted as interrupted, not failed. Figures: `make bench-fallback`."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.support.scripted_llm import ScriptedServer, start_scripted_llm

from .processes import gateway_process

CLIENTS = 200
ROUTE = "load"


def _target(cid: str, url: str) -> dict[str, object]:
    return {"candidate_id": cid, "url": url, "model": cid, "weight": 1.0}


async def _one_stream(http: aiohttp.ClientSession, url: str) -> tuple[str, str]:
    """(ok | interrupted | failed, who served it or why it failed)."""
    body = {"model": ROUTE, "messages": [{"role": "user", "content": "count"}], "stream": True}
    try:
        async with http.post(f"{url}/v1/chat/completions", json=body) as r:
            raw = await r.read()
    except (aiohttp.ClientError, OSError) as exc:
        return "failed", f"{type(exc).__name__}: {exc}"
    if r.status != 200:
        return "failed", f"{r.status}: {raw[:200]!r}"
    if b'data: {"error"' in raw:
        return "interrupted", r.headers["x-challenger-target"]
    if raw.rstrip().endswith(b"data: [DONE]"):
        return "ok", r.headers["x-challenger-target"]
    return "failed", f"cut off without a word: {raw[-200:]!r}"


def _fail(primary: ScriptedServer, failure: str) -> None:
    if failure == "kill":
        os.killpg(primary.proc.pid, signal.SIGKILL)
    else:
        primary.script(error_rate=1.0, error_status=503)


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(120):  # a guard against a hang, not a performance assertion
        while not condition():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("failure", ["kill", "5xx"])
async def test_200_streams_survive_a_fallback_with_no_failed_request(broker: str, tmp_path: Path,
                                                                    failure: str) -> None:
    script = {"ttft_ms": 50, "itl_ms": 100, "output_tokens": 10}
    with start_scripted_llm(**script) as primary, start_scripted_llm(**script) as fallback:
        routes = {ROUTE: {"targets": [_target("primary", primary.url)],
                          "fallbacks": [_target("fallback", fallback.url)]}}
        with gateway_process(broker, tmp_path, routes) as url:
            results: list[tuple[str, str]] = []
            failed_over = asyncio.Event()

            async def client(http: aiohttp.ClientSession, start_after_s: float) -> None:
                """Streams until one of its requests, sent after the failure, is served by the fallback."""
                await asyncio.sleep(start_after_s)
                while True:
                    after_failure = failed_over.is_set()
                    results.append(outcome := await _one_stream(http, url))
                    if after_failure and outcome[1] == "fallback":
                        return

            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
                # Staggered starts over one stream's length, so that whenever the primary dies some
                # streams are mid-answer (if all started together, the kill could fall between two
                # waves with every stream still before its first token, and nothing to interrupt).
                stagger = random.Random(7)
                clients = [asyncio.create_task(client(http, stagger.uniform(0, 1.0))) for _ in range(CLIENTS)]
                await _until(lambda: len(results) >= CLIENTS // 2)  # every client busy, half on their 2nd stream
                _fail(primary, failure)
                failed_over.set()
                async with asyncio.timeout(120):  # a guard against a hang, not a performance assertion
                    await asyncio.gather(*clients)

    outcomes = Counter(outcome for outcome, _ in results)
    assert [why for outcome, why in results if outcome == "failed"] == []
    served = Counter(who for _, who in results)
    assert served["primary"] >= CLIENTS // 2 and served["fallback"] >= CLIENTS  # every client reached the fallback
    if failure == "5xx":  # streams already running on the primary finish; nothing is cut
        assert outcomes["interrupted"] == 0
    else:  # at most the streams in flight on the primary when it died
        assert 0 < outcomes["interrupted"] <= CLIENTS
