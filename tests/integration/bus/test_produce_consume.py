"""Typed events through a real Tansu broker: produce, consume, dead-letter, create topics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY

from schemas import DLQ_TOPIC, TOPICS, Envelope
from schemas.events.models import TOPIC as MODELS
from shared.bus.codec import encode
from shared.bus.consumer import EventConsumer
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from tests.integration.bus.helpers import raw_records, run_until
from tests.unit.bus.events import submitted


@pytest.fixture
async def topics(broker: str) -> str:
    await ensure_topics(broker)
    return broker


@pytest.fixture
async def producer(topics: str) -> Any:
    async with EventProducer(topics) as p:
        yield p


def _collector(prefix: str) -> tuple[list[Envelope[Any]], Any]:
    seen: list[Envelope[Any]] = []

    async def handle(event: Envelope[Any]) -> None:
        if event.data.candidate_id.startswith(prefix):
            seen.append(event)

    return seen, handle


async def test_typed_events_arrive_typed_and_in_order_per_candidate(broker: str, producer: EventProducer,
                                                                     uid: str) -> None:
    sent = [submitted(f"{uid}-{i % 2}") for i in range(6)]
    await producer.publish_many(sent)
    seen, handle = _collector(uid)
    consumer = EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer)

    await run_until(consumer, lambda: len(seen) >= len(sent))

    assert [e.id for e in seen if e.data.candidate_id == f"{uid}-0"] == [e.id for e in sent[0::2]]
    assert [e.id for e in seen if e.data.candidate_id == f"{uid}-1"] == [e.id for e in sent[1::2]]
    assert seen[0] == next(e for e in sent if e.id == seen[0].id)


async def test_poison_message_goes_to_the_dlq_with_reason_bytes_and_headers(
        broker: str, producer: EventProducer, uid: str) -> None:
    key, _value, headers = encode(submitted(f"{uid}-bad"))
    poison = b'{"candidate_id": "truncated'
    await producer.send_raw(MODELS, poison, key, headers)
    good = submitted(f"{uid}-good")
    await producer.publish(good)
    seen, handle = _collector(uid)
    consumer = EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer, service="bus-test")

    await run_until(consumer, lambda: len(seen) >= 1 and consumer.dead_lettered >= 1)

    assert [e.id for e in seen] == [good.id]
    labels = {"service": "bus-test", "group": f"test-{uid}", "topic": MODELS}
    assert REGISTRY.get_sample_value("challenger_consumer_dead_lettered_total", labels) == 1  # the DLQ rate panel
    [dead] = await raw_records(broker, DLQ_TOPIC, lambda r: r.key == key, want=1)
    dead_headers = dict(dead.headers)
    assert dead.value == poison
    assert list(dead.headers)[: len(headers)] == headers
    assert dead_headers["dlq_reason"].startswith(b"io.challenger.model.submitted: the body is not a JSON object")
    assert dead_headers["dlq_topic"] == MODELS.encode()
    assert dead_headers["dlq_consumer"] == f"test-{uid}".encode()


async def test_a_failing_handler_dead_letters_after_its_attempts_and_the_next_event_is_handled(
        broker: str, producer: EventProducer, uid: str) -> None:
    doomed, fine = submitted(f"{uid}-doomed"), submitted(f"{uid}-fine")
    await producer.publish_many([doomed, fine])
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        if event.id == doomed.id:
            raise ValueError("no such task")
        if event.data.candidate_id.startswith(uid):
            handled.append(event.id)

    consumer = EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer, handler_attempts=2)
    await run_until(consumer, lambda: handled == [fine.id])

    assert handled == [fine.id]
    [dead] = await raw_records(broker, DLQ_TOPIC, lambda r: r.key == doomed.key.encode(), want=1)
    assert dict(dead.headers)["dlq_reason"] == b"handler failed after 2 attempt(s): ValueError: no such task"


def _lag(group: str) -> float | None:
    samples = [s.value for metric in REGISTRY.collect() if metric.name == "challenger_consumer_lag"
               for s in metric.samples if s.labels["group"] == group]
    return sum(samples) if samples else None


async def test_consumer_lag_is_exported_while_behind_and_falls_to_zero(broker: str, producer: EventProducer,
                                                                       uid: str) -> None:
    sent = [submitted(f"{uid}-lag") for _ in range(150)]  # one candidate: one partition, two batches
    await producer.publish_many(sent)
    seen, collect = _collector(uid)

    async def slow(event: Envelope[Any]) -> None:
        await collect(event)
        await asyncio.sleep(0.005)

    group, lags = f"test-{uid}", []
    consumer = EventConsumer(broker, [MODELS], group, slow, dlq=producer, service="bus-test")

    def caught_up() -> bool:
        lags.append(_lag(group))
        return len(seen) >= len(sent) and lags[-1] == 0

    await run_until(consumer, caught_up, timeout=60)

    assert len(seen) == len(sent)
    assert max(lag or 0 for lag in lags) > 0 and lags[-1] == 0


async def test_ensure_topics_creates_the_catalogue_with_its_partitions_once(broker: str, uid: str) -> None:
    extra = {f"test-extra-{uid}": 3}
    created = await ensure_topics(broker, extra)
    again = await ensure_topics(broker, extra)

    assert f"test-extra-{uid}" in created and again == []
    consumer = AIOKafkaConsumer(bootstrap_servers=broker)
    await consumer.start()
    try:
        wanted = {t.name: t.partitions for t in TOPICS} | extra
        actual = {name: len(await _partitions(consumer, name)) for name in wanted}
    finally:
        await consumer.stop()
    assert actual == wanted


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - no public "refresh" in aiokafka
    return consumer.partitions_for_topic(topic) or set()


async def test_raw_aiokafka_producer_interoperates_with_the_typed_consumer(broker: str, producer: EventProducer,
                                                                          uid: str) -> None:
    event = submitted(f"{uid}-raw")
    raw = AIOKafkaProducer(bootstrap_servers=broker)
    await raw.start()
    try:
        key, value, headers = encode(event)
        await raw.send_and_wait(MODELS, value=value, key=key, headers=headers)
    finally:
        await raw.stop()
    seen, handle = _collector(uid)

    await run_until(EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer), lambda: bool(seen))

    assert seen == [event]


async def test_a_consumer_restarted_after_a_stop_resumes_from_its_committed_offset(
        broker: str, producer: EventProducer, uid: str) -> None:
    first, second = [submitted(f"{uid}-a")], [submitted(f"{uid}-b")]
    seen, handle = _collector(uid)
    consumer = EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer)
    await producer.publish_many(first)
    await run_until(consumer, lambda: len(seen) >= 1)
    await producer.publish_many(second)
    await run_until(consumer, lambda: len(seen) >= 2)  # the same object starts again, as runtime does
    assert [e.id for e in seen] == [first[0].id, second[0].id]


async def test_a_batch_handler_gets_whole_batches_and_a_failing_batch_dead_letters_only_its_bad_event(
        broker: str, producer: EventProducer, uid: str) -> None:
    sent = [submitted(f"{uid}-{i}") for i in range(6)]
    doomed = sent[3]
    await producer.publish_many(sent)
    batches: list[int] = []
    handled: list[str] = []

    async def handle_batch(events: list[Envelope[Any]]) -> None:
        if any(e.id == doomed.id for e in events):
            raise ValueError("no such task")
        batches.append(len(events))
        handled.extend(e.id for e in events if e.data.candidate_id.startswith(uid))

    async def handle(event: Envelope[Any]) -> None:
        await handle_batch([event])

    consumer = EventConsumer(broker, [MODELS], f"test-{uid}", handle, dlq=producer, handler_attempts=1,
                             batch_handler=handle_batch, max_records=500)
    lags: list[dict[str, int]] = []
    await run_until(consumer, lambda: len(handled) == 5 and consumer.dead_lettered >= 1 and not lags.append(
        consumer.lag()))

    assert sorted(handled) == sorted(e.id for e in sent if e is not doomed)
    assert max(batches) > 1  # whole fetches at once while no event in them failed
    [dead] = await raw_records(broker, DLQ_TOPIC, lambda r: r.key == doomed.key.encode(), want=1)
    assert dict(dead.headers)["dlq_reason"] == b"handler failed after 1 attempt(s): ValueError: no such task"
    assert lags[-1] and set(lags[-1].values()) == {0}  # caught up on every partition it reads
