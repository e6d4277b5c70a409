"""Consume until a condition holds, with a deadline: helpers for every integration test that
waits on the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from schemas import Envelope
from shared.bus.codec import PoisonMessage, decode
from shared.bus.consumer import EventConsumer


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def run_until(consumer: EventConsumer, done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Run `consumer` until `done()` or the deadline (then the test's assertions say what is missing)."""
    stop = asyncio.Event()
    await consumer.start()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not done() and not task.done():
                await asyncio.sleep(0.05)
    except TimeoutError:
        pass
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await consumer.stop()
    if task.done() and task.exception():
        raise task.exception()  # type: ignore[misc]


async def raw_records(bootstrap: str, topic: str, keep: Callable[[ConsumerRecord], bool],
                      want: int, timeout: float = 30.0) -> list[ConsumerRecord]:
    """Read `topic` from the beginning without a group; return the first `want` records `keep` accepts."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < want:
                batches = await consumer.getmany(timeout_ms=200)
                found += [r for records in batches.values() for r in records if keep(r)]
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return found


async def first_event(broker: str, topic: str, group: str, match: Callable[[Envelope[Any]], bool],
                      timeout_s: float = 60.0) -> tuple[Envelope[Any], float]:
    """The first event on `topic` that `match` accepts, and when it was seen (monotonic clock);
    undecodable messages are skipped."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, group_id=group, auto_offset_reset="earliest",
                                session_timeout_ms=6000, heartbeat_interval_ms=1000, rebalance_timeout_ms=3000)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    try:  # other tests publish poison messages on the same catalogue topics
                        ev = decode(r.key, r.value, r.headers or ())
                    except PoisonMessage:
                        continue
                    if match(ev):
                        return ev, time.monotonic()
        raise AssertionError(f"no matching event on {topic} within {timeout_s}s")
    finally:
        await consumer.stop()
