"""The outbox across a broker outage: rows wait, the relay retries, each event arrives once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import new_event
from schemas.events.models import TOPIC, ModelApproved
from services.registry.adapters.database import open_database
from shared import outbox
from shared.bus.codec import decode
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from tests.conftest import RestartableBroker
from tests.integration.bus.helpers import wait_until


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    yield engine
    engine.dispose()


async def arrivals(bootstrap: str, group: str, keys: set[str], expected: int, settle_s: float = 3.0) -> list[str]:
    """Ids of events keyed by `keys` on the models topic, read from the beginning; after
    `expected` have come, keep reading `settle_s` more to catch duplicates."""
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                session_timeout_ms=6_000, rebalance_timeout_ms=3_000, heartbeat_interval_ms=1_000)
    await consumer.start()
    seen: list[str] = []
    quiet_until = time.monotonic() + 20
    try:
        while time.monotonic() < quiet_until:
            batches = await consumer.getmany(timeout_ms=500)
            for record in (r for rs in batches.values() for r in rs):
                if record.key and record.key.decode() in keys:
                    seen.append(decode(record.key, record.value, record.headers).id)
            if len(seen) >= expected:
                quiet_until = min(quiet_until, time.monotonic() + settle_s)
    finally:
        await consumer.stop()
    return seen


async def test_event_written_while_broker_is_down_arrives_once_in_order(
        restartable_broker: RestartableBroker, engine: Engine, uid: str) -> None:
    await ensure_topics(restartable_broker.bootstrap)
    producer = EventProducer(restartable_broker.bootstrap)
    await producer.start()
    relay = outbox.OutboxRelay(engine, producer, bootstrap=restartable_broker.bootstrap, max_backoff_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        restartable_broker.stop()
        events = [new_event(ModelApproved(candidate_id=f"c-{uid}", approver=f"a{i}"), source="test")
                  for i in range(3)]
        with Session(engine) as session:
            for event in events:
                outbox.add(session, event)
            session.commit()
        await wait_until(lambda: relay.failures >= 1, 40, "the relay to fail while the broker is down")
        assert outbox.pending_count(engine) == 3

        restartable_broker.start()
        await wait_until(lambda: outbox.pending_count(engine) == 0, 40, "the relay to drain the outbox")
        assert await arrivals(restartable_broker.bootstrap, f"t-{uid}", {f"c-{uid}"}, 3) == [e.id for e in events]
    finally:
        stop.set()
        await task
        await producer.stop()


async def test_two_relays_on_postgresql_publish_each_event_once_in_order(broker: str, pg_url: str, uid: str) -> None:
    engine = open_database(pg_url)
    keys = [f"c-{uid}-{k}" for k in range(3)]
    events = [new_event(ModelApproved(candidate_id=keys[i % 3], approver=f"a{i}"), source="test") for i in range(30)]
    with Session(engine) as session:
        for event in events:
            outbox.add(session, event)
        session.commit()
    await ensure_topics(broker)
    producers = [EventProducer(broker) for _ in range(2)]
    relays = [outbox.OutboxRelay(engine, p, batch_size=4, idle_s=0.05) for p in producers]
    stop = asyncio.Event()
    for producer in producers:
        await producer.start()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        await wait_until(lambda: outbox.pending_count(engine) == 0, 40, "two relays to drain the outbox")
        seen = await arrivals(broker, f"t-{uid}", set(keys), len(events))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for producer in producers:
            await producer.stop()
        engine.dispose()
    assert sorted(seen) == sorted(e.id for e in events)  # every event exactly once
    for key in keys:
        mine = [e.id for e in events if e.data.candidate_id == key]
        assert [i for i in seen if i in set(mine)] == mine  # in order per candidate
