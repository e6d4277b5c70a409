"""CHALLENGER_GATEWAY_WORKERS=2: two processes serve one port, and a route update published
once reaches both (each worker consumes the routing topic in its own consumer group)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from schemas.events.deployments import RouteTarget

from .conftest import publish_route, target
from .processes import gateway_process


def worker_view(url: str, route: str) -> tuple[str, int | None]:
    """(the worker that answered, the revision of `route` it serves), both asked on one new
    connection, so both answers come from the same worker."""
    with httpx.Client(base_url=url, timeout=10) as client:
        groups = list(client.get("/health").json()["consumers"])
        tables = {t["route"]: t for t in client.get("/routes").json()}
    assert len(groups) == 1, groups  # one consumer group per worker: gateway-<instance>
    table = tables.get(route)
    return groups[0], table["revision"] if table else None


async def test_a_route_update_reaches_every_worker(broker, upstreams, tmp_path: Path, uid):
    old, new = upstreams("old"), upstreams("new")
    route = f"workers-{uid}"
    await publish_route(broker, route, [RouteTarget(**target("old", old.url))], 1)
    with gateway_process(broker, tmp_path, {}, WORKERS="2", SUBSCRIBE="true") as url:
        seen: dict[str, int | None] = {}
        published = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            worker, revision = await asyncio.to_thread(worker_view, url, route)
            seen[worker] = revision
            if not published and len(seen) == 2 and set(seen.values()) == {1}:
                await publish_route(broker, route, [RouteTarget(**target("new", new.url))], 2)
                published = True
            elif published and len(seen) == 2 and set(seen.values()) == {2}:
                break
            await asyncio.sleep(0.05)
        assert published and len(seen) == 2 and set(seen.values()) == {2}, seen
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            answers = [await client.post("/v1/chat/completions", headers={"connection": "close"},
                                         json={"model": route, "messages": [{"role": "user", "content": "hi"}]})
                       for _ in range(10)]
    assert {r.headers["x-challenger-target"] for r in answers} == {"new"}
