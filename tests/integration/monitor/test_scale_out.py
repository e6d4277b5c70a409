"""Two monitor instances in one consumer group split `challenger.inference` by partition:
each route's windows are analysed by exactly one of them, the one that owns its partition;
and when one is killed mid-window, the other takes its partitions and closes that window
with every record, from the journal the two share in the database, where either logs it
(issue 16, scale-out)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition

from schemas.catalogue import TOPICS
from schemas.events import inference
from services.monitor.adapters.journal import SqlJournal
from services.monitor.adapters.store import MonitorStore
from services.monitor.bootstrap import GROUP
from services.monitor.config import MonitorConfig
from services.monitor.domain.windows import Window, WindowKey
from services.monitor.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from shared.db import make_engine
from shared.process import Proc, free_port
from shared.settings import Settings
from tests.conftest import own_broker, started
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


def analysed(store: MonitorStore, routes: Iterable[str]) -> set[str]:
    """The routes of `routes` with a closed window in `store`'s log."""
    return {route for route in routes if store.logged_windows(route)}


async def test_two_instances_split_the_partitions_and_analyse_each_route_once(broker: str, uid: str,
                                                                             tmp_path: Path) -> None:
    routes = one_route_per_partition(uid)
    homes = [tmp_path / "a", tmp_path / "b"]  # and each its own database (SQLite), so its log shows what it closed
    cfg = MonitorConfig(window_size=WINDOW, html_reports=False, routes=list(routes.values()))
    apps = [create_app(Settings(home=home, kafka_bootstrap=broker), cfg, group=f"monitor-{uid}") for home in homes]
    stores = [app.state.service.monitor.deps.store for app in apps]
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
        await wait_until(lambda: analysed(stores[0], routes.values()) | analysed(stores[1], routes.values())
                         == set(routes.values()), 60, "every route's windows")
        await asyncio.sleep(1.0)  # a second instance closing a route's windows too would have logged them by now
        ownership = [owned(0), owned(1)]
        logged = [{route: len(store.logged_windows(route)) for route in routes.values()} for store in stores]

    for partitions, windows in zip(ownership, logged, strict=True):
        assert partitions and {r for r, n in windows.items() if n} == {routes[p] for p in partitions}
        for p in partitions:  # the first window became the reference, the second was judged
            assert windows[routes[p]] == WINDOWS_PER_ROUTE


def monitor_proc(home: Path, broker: str, db_url: str, cfg: MonitorConfig) -> Proc:
    """`python -m services.monitor` as its own process (group `monitor`), so it can be SIGKILLed."""
    (home / "monitor").mkdir(parents=True, exist_ok=True)
    config = home / "monitor" / "config.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(exclude_none=True)))
    port = free_port()
    env = {"PORT": str(port), "CHALLENGER_HOME": str(home), "CHALLENGER_KAFKA_BOOTSTRAP": broker,
           "DATABASE_URL": db_url, "CHALLENGER_MONITOR_CONFIG": str(config), "CHALLENGER_TRACE_RATIO": "0"}
    return Proc(name="monitor", argv=[sys.executable, "-m", "services.monitor"], port=port, home=home, env=env,
                health_url=f"http://127.0.0.1:{port}/health", start_timeout=90)


def request_ids(store: MonitorStore, route: str) -> list[list[str]]:
    """The request ids of each logged window of `route` (closed by any instance)."""
    return [[r.request_id for r in window] for window in store.logged_windows(route)]


async def test_a_killed_instance_loses_no_window_the_survivor_closes_it_with_every_record(
        broker: str, uid: str, pg_url: str, tmp_path: Path) -> None:
    """A (its own process) owns the route's partition and journals the first records of a window
    in PostgreSQL; A is SIGKILLed (no leave, no flush); the rest of the window is sent. B, in the
    same group on the same database, is given A's partitions once A's session expires, rebuilds
    the open window from the journal, and closes it with all its records: analysed once, by B."""
    routes = one_route_per_partition(f"k{uid}")
    first, window = 7, WINDOW
    cfg = MonitorConfig(window_size=window, html_reports=False, routes=list(routes.values()))
    homes = tmp_path / "a", tmp_path / "b"
    a = started(monitor_proc(homes[0], broker, pg_url, cfg))
    try:
        app = create_app(Settings(home=homes[1], kafka_bootstrap=broker, DATABASE_URL=pg_url), cfg, group=GROUP)
        async with app.router.lifespan_context(app):
            consumer, monitor = app.state.service.consumers[0], app.state.service.monitor
            analysed_here: list[str] = []
            close = monitor.close

            async def close_here(window: Window, *args: Any) -> None:
                analysed_here.append(window.key.route)
                await close(window, *args)

            monitor.close = close_here  # type: ignore[method-assign]

            def owned() -> set[int]:
                return {tp.partition for tp in consumer.assignment() if tp.topic == inference.TOPIC}

            await wait_until(lambda: 0 < len(owned()) < PARTITIONS, 60, "A and B to split the partitions")
            partition = min(set(routes) - owned())  # one A owns
            route, tp = routes[partition], TopicPartition(inference.TOPIC, partition)
            events = stream(window, shift_at=None, route=route)
            journal = SqlJournal(make_engine(pg_url), GROUP)
            offsets = AIOKafkaConsumer(bootstrap_servers=broker, group_id=GROUP)  # reads the group's commits only
            await offsets.start()
            end = (await offsets.end_offsets([tp]))[tp]

            def journaled() -> list[str]:
                return [str(e["record"]["request_id"]) for _, r, e in journal.entries() if r == route and "record" in e]

            async def committed() -> int:
                return await offsets.committed(tp) or 0

            async with EventProducer(broker) as producer:
                await producer.publish_many(events[:first])
                await wait_until(lambda: len(journaled()) == first, 60, "A to journal the window's first records")
                for _ in range(300):  # A commits right after the journal write
                    if await committed() >= end + first:
                        break
                    await asyncio.sleep(0.2)
                assert await committed() == end + first, "A did not commit the first records"
                await offsets.stop()
                os.killpg(a.popen.pid, signal.SIGKILL)  # type: ignore[union-attr]
                a.popen.wait()  # type: ignore[union-attr]
                await wait_until(lambda: len(owned()) == PARTITIONS, 60, "B to take A's partitions")
                # committed, those records will not be delivered again: B has them from the journal
                assert {k.route: n for k, n in monitor.windows.open_sizes().items()} == {route: first}
                await producer.publish_many(events[first:])
            store = monitor.deps.store  # the log in the database the two share
            await wait_until(lambda: bool(request_ids(store, route)), 60, "B to close the window")
            await asyncio.wait_for(monitor.drain(), 60)
            await asyncio.sleep(1.0)  # a second window of the route, if records were counted twice, by now
            assert request_ids(store, route) == [[e.data.request_id for e in events]]  # every record, once, one window
            assert analysed_here == [route] and journaled() == []  # analysed by B; nothing left open
            journal.engine.dispose()
    finally:
        a.stop()


async def test_a_route_is_judged_against_the_reference_its_staging_traffic_made_on_the_other_instance(
        broker: str, uid: str, pg_url: str, tmp_path: Path) -> None:
    """`<route>-staging` is another key, so its windows (the route's reference) may close on one
    instance while the route's own windows close on the other: the reference is in the shared
    database, so the route's first window is judged against it, not taken as a new reference."""
    cfg = MonitorConfig(window_size=WINDOW, reference_size=2 * WINDOW, html_reports=False)
    apps = [create_app(Settings(home=tmp_path / name, kafka_bootstrap=broker, DATABASE_URL=pg_url), cfg,
                       group=f"monitor-ref-{uid}") for name in "ab"]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        consumers = [app.state.service.consumers[0] for app in apps]

        def owner(partition: int) -> int | None:
            return next((i for i, c in enumerate(consumers)
                         if TopicPartition(inference.TOPIC, partition) in c.assignment()), None)

        await wait_until(lambda: all(owner(p) is not None for p in range(PARTITIONS))
                         and len({owner(p) for p in range(PARTITIONS)}) == 2, 60, "both instances to own partitions")
        route = next(r for r in (f"ref{uid}x{i}" for i in range(10_000))
                     if owner(partition_of(r)) != owner(partition_of(f"{r}-staging")))
        key, store = WindowKey(route, "cand-a"), apps[0].state.service.monitor.deps.store
        async with EventProducer(broker) as producer:
            await producer.publish_many(stream(2 * WINDOW, shift_at=None, route=f"{route}-staging", prefix="s"))
            await wait_until(lambda: len(store.load_reference(key)) == 2 * WINDOW, 60, "the staging reference")
            await producer.publish_many(stream(WINDOW, shift_at=None, route=route))
        judge = owner(partition_of(route)) or 0
        await wait_until(lambda: bool(request_ids(store, route)), 60, "the route's first window")
        await asyncio.wait_for(apps[judge].state.service.monitor.drain(), 60)  # and its analysis done
        assert {str(r.request_id)[0] for r in store.load_reference(key)} == {"s"}  # still the staging traffic
