"""Two monitor instances in one consumer group split `challenger.inference` by partition:
each route's windows are analysed by exactly one of them, the one that owns its partition
(issue 16, scale-out)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from schemas.catalogue import TOPICS
from schemas.events import inference
from services.monitor.config import MonitorConfig
from services.monitor.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.conftest import own_broker
from tests.integration.bus.helpers import wait_until
from tests.unit.monitor.synthetic import stream

pytestmark = pytest.mark.timeout(240)
WINDOW, WINDOWS_PER_ROUTE = 10, 2
PARTITIONS = next(t.partitions for t in TOPICS if t.name == inference.TOPIC)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own broker: both instances read challenger.inference from the beginning,
    and the traffic other tests left there would queue ahead of this test's."""
    yield from own_broker(tmp_path_factory.mktemp("scale-out-broker"))


def partition_of(route: str) -> int:
    """Where the producer's default partitioner puts a record keyed by `route`."""
    return (murmur2(route.encode()) & 0x7FFFFFFF) % PARTITIONS


def one_route_per_partition(uid: str) -> dict[int, str]:
    routes: dict[int, str] = {}
    for route in (f"so{uid}x{i}" for i in range(10_000)):
        routes.setdefault(partition_of(route), route)
        if len(routes) == PARTITIONS:
            return routes
    raise AssertionError("no route for some partition")


def analysed(home: Path) -> set[str]:
    """The routes whose windows this instance logged."""
    folder = home / "monitor" / "windows"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


async def test_two_instances_split_the_partitions_and_analyse_each_route_once(broker: str, uid: str,
                                                                             tmp_path: Path) -> None:
    routes = one_route_per_partition(uid)
    homes = [tmp_path / "a", tmp_path / "b"]
    cfg = MonitorConfig(window_size=WINDOW, html_reports=False, routes=list(routes.values()))
    apps = [create_app(Settings(home=home, kafka_bootstrap=broker), cfg, group=f"monitor-{uid}") for home in homes]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        consumers = [app.state.service.consumers[0] for app in apps]  # the inference group's consumer

        def owned(i: int) -> set[int]:
            return {tp.partition for tp in consumers[i].assignment() if tp.topic == inference.TOPIC}

        await wait_until(lambda: owned(0) and owned(1) and len(owned(0) | owned(1)) == PARTITIONS, 60,
                         "both instances to own partitions")
        for app in apps:  # windows wait in one analysis queue behind the first drift (Evidently's import)
            await asyncio.wait_for(app.state.service.drift_ready, 90)
        async with EventProducer(broker) as producer:
            for route in routes.values():
                await producer.publish_many(stream(WINDOW * WINDOWS_PER_ROUTE, shift_at=None, route=route))
        await wait_until(lambda: analysed(homes[0]) | analysed(homes[1]) == set(routes.values()), 60,
                         "every route's windows")
        await asyncio.sleep(1.0)  # a second instance analysing a route too would have logged it by now
        ownership = [owned(0), owned(1)]

    for home, partitions in zip(homes, ownership, strict=True):
        assert partitions and analysed(home) == {routes[p] for p in partitions}
        for p in partitions:  # the first window became the reference, the second was judged
            assert len(list((home / "monitor" / "windows" / routes[p]).rglob("*.jsonl"))) == WINDOWS_PER_ROUTE
