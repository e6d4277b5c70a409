"""The Redis response cache on real Redis (and with Redis unreachable), and routing-table
updates arriving as route.updated events through the real broker."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import redis.asyncio as redis

from schemas.events.deployments import RouteTarget
from shared.process import free_port

from .conftest import answer, chat, publish_route, running_gateway, target

REDIS = "redis://127.0.0.1:6379/0"


async def _keys(prefix: str) -> list[bytes]:
    client = redis.from_url(REDIS)
    try:
        return [k async for k in client.scan_iter(f"{prefix}*")]
    finally:
        await client.aclose()


async def test_cache_hits_only_same_candidate_and_never_stores_failed_answers(broker, upstreams, tmp_path: Path,
                                                                               uid):
    a, b = upstreams("a"), upstreams("b")
    prefix = f"test:{uid}:"
    routes = {
        "cached": {"targets": [target("a", a.url, 0.5), target("b", b.url, 0.5)], "sticky_key": "x-user-id",
                   "cache_ttl_s": 60},
        "json": {"targets": [target("a", a.url)], "require_json": True, "cache_ttl_s": 60},
    }
    async with running_gateway(broker, tmp_path, routes, gateway_cache_prefix=prefix) as gw:
        users = {}
        for i in range(40):  # find one user per candidate
            user = f"user{i}"
            r = await gw.post("/v1/chat/completions", json=chat("cached", "warm-up", temperature=0.7),
                              headers={"x-user-id": user})
            assert r.headers["x-cache"] == "bypass"  # not deterministic
            users.setdefault(r.headers["x-challenger-target"], user)
        assert set(users) == {"a", "b"}

        async def ask(user: str) -> tuple[str, str, str]:
            r = await gw.post("/v1/chat/completions", json=chat("cached", "same question", temperature=0),
                              headers={"x-user-id": users[user]})
            assert r.status_code == 200
            return r.headers["x-challenger-target"], r.headers["x-cache"], answer(r)

        assert await ask("a") == ("a", "miss", "a says: same question")
        await asyncio.sleep(0.2)  # the store happens after the answer is sent
        assert await ask("a") == ("a", "hit", "a says: same question")
        assert await ask("b") == ("b", "miss", "b says: same question")  # never across candidates
        await asyncio.sleep(0.2)
        assert await ask("b") == ("b", "hit", "b says: same question")
        calls_before = a.calls()
        seeded = await gw.post("/v1/chat/completions", json=chat("json", "[json] x", temperature=0.9, seed=7))
        assert seeded.headers["x-cache"] == "miss"
        bad = await gw.post("/v1/chat/completions", json=chat("json", "[notjson] x", temperature=0))
        assert bad.status_code == 502 and bad.json()["error"]["type"] == "upstream_answer_rejected"
        assert "json_validity" in bad.text
        await asyncio.sleep(0.2)
        again = await gw.post("/v1/chat/completions", json=chat("json", "[notjson] x", temperature=0))
        assert again.status_code == 502 and a.calls() == calls_before + 3
        metrics = (await gw.get("/metrics")).text
        assert 'gateway_cache_total{result="hit",route="cached"}' in metrics
    keys = await _keys(prefix)
    assert len(keys) == 3  # a's, b's and the seeded JSON answer; nothing for the failed one
    assert sum(k.startswith(f"{prefix}cached:a:".encode()) for k in keys) == 1


async def test_redis_unreachable_means_no_cache_one_warning_no_errors(broker, upstreams, tmp_path: Path, caplog):
    up = upstreams("a")
    routes = {"cached": {"targets": [target("a", up.url)], "cache_ttl_s": 60}}
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="services.gateway.adapters.cache"):
        async with running_gateway(broker, tmp_path, routes, gateway_redis_url=closed) as gw:
            for i in range(10):
                r = await gw.post("/v1/chat/completions", json=chat("cached", f"q{i % 2}", temperature=0))
                assert r.status_code == 200 and r.headers["x-cache"] == "bypass"
    warnings = [rec for rec in caplog.records if rec.name == "services.gateway.adapters.cache"]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()


async def test_route_updated_events_apply_live_without_dropped_requests(broker, upstreams, tmp_path: Path, uid):
    old, new = upstreams("old"), upstreams("new")
    route = f"live-{uid}"
    as_target = lambda cid, url: RouteTarget(**target(cid, url))  # noqa: E731
    await publish_route(broker, route, [as_target("old", old.url)], 1)
    async with running_gateway(broker, tmp_path, gateway_subscribe=True) as gw:
        async with asyncio.timeout(30):
            while not any(r["route"] == route for r in (await gw.get("/routes")).json()):
                await asyncio.sleep(0.1)
        served: list[str] = []
        failures: list[int] = []
        stop = asyncio.Event()

        async def traffic() -> None:
            while not stop.is_set():
                r = await gw.post("/v1/chat/completions", json=chat(route, "hi"))
                served.append(r.headers.get("x-challenger-target", "")) if r.status_code == 200 \
                    else failures.append(r.status_code)

        clients = [asyncio.create_task(traffic()) for _ in range(4)]
        await asyncio.sleep(0.5)
        await publish_route(broker, route, [as_target("new", new.url)], 2)
        async with asyncio.timeout(30):
            while not served or served[-1] != "new":
                await asyncio.sleep(0.05)
        await publish_route(broker, route, [as_target("old", old.url)], 1)  # stale: ignored
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*clients)
        table = next(r for r in (await gw.get("/routes")).json() if r["route"] == route)
    assert failures == []
    assert served[0] == "old" and served[-1] == "new" and table["revision"] == 2
    switch = served.index("new")
    assert set(served[switch + 8:]) == {"new"}  # once switched (4 in flight), it stays switched
