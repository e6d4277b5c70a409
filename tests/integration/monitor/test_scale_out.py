"""Two monitor instances in one consumer group split `challenger.inference` by partition:
each route's windows are analysed by exactly one of them (issue 16, scale-out)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from schemas.events import inference
from services.monitor.app import create_app
from services.monitor.config import MonitorConfig
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.integration.bus.helpers import wait_until
from tests.unit.monitor.synthetic import stream

pytestmark = pytest.mark.timeout(240)
WINDOW, WINDOWS_PER_ROUTE, ROUTES_EACH = 10, 2, 2


def partition_of(route: str, partitions: int) -> int:
    """Where the producer's default partitioner puts a record keyed by `route`."""
    return (murmur2(route.encode()) & 0x7FFFFFFF) % partitions


def routes_on(owned: set[int], uid: str, partitions: int, taken: set[str]) -> list[str]:
    """`ROUTES_EACH` route names of this test whose records land on the `owned` partitions."""
    found = [r for r in (f"so{uid}x{i}" for i in range(1000)) if partition_of(r, partitions) in owned]
    return [r for r in found if r not in taken][:ROUTES_EACH]


def analysed(home: Path) -> set[str]:
    """The routes whose windows this instance logged."""
    folder = home / "monitor" / "windows"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


async def test_two_instances_split_the_partitions_and_analyse_each_route_once(broker: str, uid: str,
                                                                             tmp_path: Path) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    apps = [create_app(Settings(home=home, kafka_bootstrap=broker),
                       MonitorConfig(window_size=WINDOW, html_reports=False), group=f"monitor-{uid}")
            for home in homes]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        consumers = [app.state.ctx.consumers[0] for app in apps]  # the inference group's consumer

        def owned(i: int) -> set[int]:
            return {tp.partition for tp in consumers[i].assignment() if tp.topic == inference.TOPIC}

        partitions = 8  # the catalogue's partitions of challenger.inference
        await wait_until(lambda: owned(0) and owned(1) and len(owned(0) | owned(1)) == partitions, 60,
                         "both instances to own partitions")
        assert not owned(0) & owned(1)
        mine = [routes_on(owned(0), uid, partitions, set()), routes_on(owned(1), uid, partitions, set())]
        for app in apps:  # windows wait in one analysis queue behind the first drift (Evidently's import)
            await asyncio.wait_for(app.state.ctx.state["drift_ready"], 90)
        async with EventProducer(broker) as producer:
            for route in mine[0] + mine[1]:
                await producer.publish_many(stream(WINDOW * WINDOWS_PER_ROUTE, shift_at=None, route=route))
        await wait_until(lambda: analysed(homes[0]) | analysed(homes[1]) == {*mine[0], *mine[1]}, 60,
                         "every route's windows")
        await asyncio.sleep(1.0)  # a second instance analysing a route too would have logged it by now

    assert analysed(homes[0]) == set(mine[0]) and analysed(homes[1]) == set(mine[1])
    for home, routes in zip(homes, mine, strict=True):
        for route in routes:  # the first window became the reference, the second was judged
            assert len(list((home / "monitor" / "windows" / route).rglob("*.jsonl"))) == WINDOWS_PER_ROUTE
