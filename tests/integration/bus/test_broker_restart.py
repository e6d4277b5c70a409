"""The embedded broker restarted empty, with a real Tansu and a real database (SQLite and
PostgreSQL): events it had acknowledged and then lost are sent again by the outbox relay,
with their ids and in their order; a consumer that lived through the restart (its group's
offsets gone) applies each one once through an idempotent handler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from schemas import TOPICS, Envelope, new_event
from schemas.events.models import TOPIC, ModelApproved
from shared import outbox
from shared.bus.codec import decode
from shared.bus.consumer import EventConsumer
from shared.bus.log_probe import LogProbe
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.db import make_engine
from tests.conftest import RestartableBroker
from tests.integration.bus.helpers import raw_records, wait_until


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    SQLModel.metadata.create_all(engine, tables=[outbox.OutboxEvent.__table__])  # type: ignore[attr-defined]
    yield engine
    engine.dispose()


class Applier:
    """An idempotent handler: applies an event id once and counts every delivery. The
    `hold_at`-th new event waits for `gate` (a handler busy while the broker restarts)."""

    def __init__(self, key: str, hold_at: int) -> None:
        self.key, self.hold_at = key, hold_at
        self.gate = asyncio.Event()
        self.holding = False
        self.applied: list[str] = []
        self.deliveries = 0

    async def __call__(self, envelope: Envelope[Any]) -> None:
        if envelope.key != self.key:
            return
        self.deliveries += 1
        if envelope.id in self.applied:
            return
        if len(self.applied) + 1 == self.hold_at:
            self.holding = True
            await self.gate.wait()
        self.applied.append(envelope.id)


def stage(engine: Engine, key: str, n: int, first: int = 0) -> list[str]:
    events = [new_event(ModelApproved(candidate_id=key, approver=f"a{first + i}"), source="test") for i in range(n)]
    with Session(engine) as session:
        for event in events:
            outbox.add(session, event)
        session.commit()
    return [e.id for e in events]


async def relayed(engine: Engine, producer: EventProducer, key: str, n: int) -> tuple[list[str], outbox.OutboxRelay]:
    """`n` events staged under `key` and sent by a relay; their ids and the relay."""
    sent = stage(engine, key, n)
    relay = outbox.OutboxRelay(engine, producer)
    assert await relay.relay_once() == n
    return sent, relay


async def ids_after_the_others(bootstrap: str, key: str, *, others: int, ours: int) -> list[str]:
    """The ids on the restarted log under `key` after the `others` another service wrote there."""
    on_the_log = await raw_records(bootstrap, TOPIC, lambda r: r.key == key.encode(), others + ours)
    return [decode(r.key, r.value, r.headers).id for r in on_the_log][others:]


async def fill_as_another_service(bootstrap: str, key: str, n: int) -> None:
    """The restarted broker's topics re-created and `n` events of another service written under
    `key` (so on the partition our rows were on)."""
    await ensure_topics(bootstrap)
    async with EventProducer(bootstrap) as other:
        await other.publish_many(new_event(ModelApproved(candidate_id=key, approver="other"), source="other")
                                 for _ in range(n))


async def test_acked_events_lost_in_a_broker_restart_are_replayed_and_applied_once(
        restartable_broker: RestartableBroker, engine: Engine, uid: str) -> None:
    """`busy` lives through the restart with a handler mid-event; `idle` lives through it with
    nothing to do; `late` starts only after it (a service that was down): without the replay it
    would never see the events the old log had acknowledged."""
    bootstrap = restartable_broker.bootstrap
    key = f"c-{uid}"
    await ensure_topics(bootstrap)
    producer = EventProducer(bootstrap)
    await producer.start()
    relay = outbox.OutboxRelay(engine, producer, bootstrap=bootstrap, max_backoff_s=1.0, check_every_s=0.5)
    busy, idle, late = Applier(key, hold_at=4), Applier(key, hold_at=0), Applier(key, hold_at=0)
    consumers = [EventConsumer(bootstrap, [TOPIC], f"g-{name}-{uid}", applier, dlq=producer)
                 for name, applier in (("busy", busy), ("idle", idle), ("late", late))]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)), *(asyncio.create_task(c.serve(stop)) for c in consumers[:2])]
    try:
        first = stage(engine, key, 3)
        await wait_until(lambda: busy.applied == first, 60, "the consumer to apply the first events")
        then = stage(engine, key, 3, first=3)  # acknowledged; the consumer is busy with the first of them
        await wait_until(lambda: outbox.pending_count(engine) == 0 and busy.holding and len(idle.applied) == 6, 60,
                         "the broker to acknowledge them, one handler to be busy and the other done")
        restartable_broker.restart()  # empty: no topics, no events, no group offsets
        busy.gate.set()
        tasks.append(asyncio.create_task(consumers[2].serve(stop)))

        await wait_until(lambda: relay.replayed >= 6 and outbox.pending_count(engine) == 0, 90,
                         "the relay to send the lost events again")
        await wait_until(lambda: late.applied == first + then, 90, "the late consumer to apply every event")
        await wait_until(lambda: busy.deliveries >= 12 and idle.deliveries >= 12, 90,
                         "the consumers that lived through the restart to read the new log from its start")
        on_the_log = await raw_records(bootstrap, TOPIC, lambda r: r.key == key.encode(), 6)
        assert [decode(r.key, r.value, r.headers).id for r in on_the_log] == first + then  # same ids, in order
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await producer.stop()
    assert busy.applied == idle.applied == late.applied == first + then  # each applied once, in order
    assert consumers[0].restarts >= 1 and late.deliveries == 6
    async with EventProducer(bootstrap) as producer:  # a relay started afresh finds nothing lost
        assert await outbox.OutboxRelay(engine, producer).check_log() == 0


async def test_a_restarted_log_that_others_filled_past_our_offsets_is_still_found_to_have_lost_ours(
        restartable_broker: RestartableBroker, engine: Engine, uid: str) -> None:
    """After the restart another producer writes more to the partition than it held before: its
    end offset says nothing, the event id at our last offset does."""
    bootstrap = restartable_broker.bootstrap
    key = f"c-{uid}"
    await ensure_topics(bootstrap)
    async with EventProducer(bootstrap) as producer:
        sent, _ = await relayed(engine, producer, key, 3)

    restartable_broker.restart()
    await fill_as_another_service(bootstrap, key, 5)
    async with EventProducer(bootstrap) as other:
        relay = outbox.OutboxRelay(engine, other)  # a relay started afresh: it remembers nothing
        assert await relay.check_log() == 3
        assert await relay.relay_once() == 3
        assert await relay.check_log() == 0  # and now the log holds them

    assert await ids_after_the_others(bootstrap, key, others=5, ours=3) == sent


async def test_a_restarted_log_that_others_filled_to_the_same_end_is_found_by_a_relay_that_checked_before(
        restartable_broker: RestartableBroker, engine: Engine, uid: str) -> None:
    """The relay found its partition intact before the restart; afterwards another service
    writes as many events there as the old log held, so the end offset is the same as before.
    Only the event id at our last offset tells the logs apart (a fault drill caught a relay that
    trusted the end offset it had seen and never sent a lost evaluation request again)."""
    bootstrap = restartable_broker.bootstrap
    key = f"c-{uid}"
    await ensure_topics(bootstrap)
    async with EventProducer(bootstrap) as producer:
        sent, relay = await relayed(engine, producer, key, 2)
        assert await relay.check_log() == 0  # intact before the restart
        restartable_broker.restart()
        await fill_as_another_service(bootstrap, key, 2)
        assert await _once_reconnected(relay, check=True) == 2
        assert await _once_reconnected(relay) == 2
    assert await ids_after_the_others(bootstrap, key, others=2, ours=2) == sent


async def test_the_log_probe_sees_every_topic_whatever_it_read_before(restartable_broker: RestartableBroker) -> None:
    bootstrap = restartable_broker.bootstrap
    await ensure_topics(bootstrap)
    probe = LogProbe(bootstrap)
    try:
        last = [TopicPartition(t.name, t.partitions - 1) for t in TOPICS]
        assert await probe.ids_at({last[0]: 0}) == {last[0]: None}  # an empty log holds nothing there
        ends = await probe.end_offsets([*last, TopicPartition("challenger.nothing", 0), TopicPartition(TOPIC, 99)])
    finally:
        await probe.close()
    missing = {TopicPartition("challenger.nothing", 0): None, TopicPartition(TOPIC, 99): None}
    assert ends == dict.fromkeys(last, 0) | missing


async def test_an_acknowledgement_below_one_already_seen_means_a_new_log(
        restartable_broker: RestartableBroker, engine: Engine, uid: str) -> None:
    """The relay sends into the restarted broker before any check ran (someone re-created the
    topics): the offset it gets back is one it had already been given, so what it sent before
    is gone and is queued again."""
    bootstrap = restartable_broker.bootstrap
    key = f"c-{uid}"
    await ensure_topics(bootstrap)
    async with EventProducer(bootstrap) as producer:
        relay = outbox.OutboxRelay(engine, producer)
        before = stage(engine, key, 3)
        assert await relay.relay_once() == 3
        restartable_broker.restart()
        await ensure_topics(bootstrap)
        after = stage(engine, key, 1, first=3)
        assert await _once_reconnected(relay) == 1 and relay.replayed == 3
        assert await relay.relay_once() == 3
    on_the_log = await raw_records(bootstrap, TOPIC, lambda r: r.key == key.encode(), 4)
    assert sorted(decode(r.key, r.value, r.headers).id for r in on_the_log) == sorted(after + before)


async def _once_reconnected(relay: outbox.OutboxRelay, attempts: int = 40, *, check: bool = False) -> int:
    """relay_once (or check_log), retried while the relay reconnects to the restarted broker."""
    step = relay.check_log if check else relay.relay_once
    for _ in range(attempts - 1):
        with contextlib.suppress(Exception):
            return await step()
        await asyncio.sleep(0.5)
    return await step()


async def test_two_relays_on_one_postgresql_outbox_send_what_was_lost_once(
        restartable_broker: RestartableBroker, pg_url: str, uid: str) -> None:
    """The registry and the deployer share one database (DATABASE_URL), so two relays serve one
    outbox: whichever checks first queues the lost rows again; neither sends them twice."""
    bootstrap = restartable_broker.bootstrap
    engine = make_engine(pg_url)
    SQLModel.metadata.create_all(engine, tables=[outbox.OutboxEvent.__table__])  # type: ignore[attr-defined]
    key = f"c-{uid}"
    await ensure_topics(bootstrap)
    producers = [EventProducer(bootstrap) for _ in range(2)]
    relays = [outbox.OutboxRelay(engine, p, batch_size=1, idle_s=0.05, max_backoff_s=0.5, check_every_s=0.3)
              for p in producers]
    stop = asyncio.Event()
    for producer in producers:
        await producer.start()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        sent = stage(engine, key, 6)
        await wait_until(lambda: outbox.pending_count(engine) == 0, 60, "the relays to send")
        await asyncio.sleep(1.0)  # both relays check the intact log at least once
        restartable_broker.restart()
        await wait_until(lambda: sum(r.replayed for r in relays) >= 6, 90, "a relay to queue the lost rows again")
        more = stage(engine, key, 4, first=6)
        await wait_until(lambda: outbox.pending_count(engine) == 0, 90, "the relays to send again")
        await asyncio.sleep(3.0)  # time for a wrong second replay to show
        on_the_log = await raw_records(bootstrap, TOPIC, lambda r: r.key == key.encode(), 20, timeout=10)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for producer in producers:
            await producer.stop()
        engine.dispose()
    assert sorted(decode(r.key, r.value, r.headers).id for r in on_the_log) == sorted(sent + more)
    assert sum(r.replayed for r in relays) == 6
