"""Sampled `inference.logged` events through a bounded queue. `offer` never waits: when the
queue is full the event is dropped and counted, so Kafka trouble never slows user traffic.
What is queued is a function that builds the event: validating it, wrapping it in its
envelope and encoding it happen in the drain task, after the client has its answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import get_args

from schemas import Envelope, new_event
from schemas.events.inference import PURPOSE_HEADER, InferenceLogged, Purpose
from services.gateway.adapters import metrics
from shared.bus.producer import EventProducer

log = logging.getLogger(__name__)

SOURCE = "challenger/gateway"
PURPOSES: frozenset[str] = frozenset(get_args(Purpose))


def purpose_of(headers: dict[str, str]) -> Purpose | None:
    """The request's declared purpose (the evaluator sends it) when it is one of `PURPOSES`;
    anything else is None, so a client cannot put free text into the log."""
    value = headers.get(PURPOSE_HEADER, "").strip().lower()
    return value if value in PURPOSES else None  # type: ignore[return-value]


class InferenceLog:
    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[Callable[[], InferenceLogged]] = asyncio.Queue(maxsize=maxsize)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @staticmethod
    def sampled(rate: float) -> bool:
        return rate >= 1.0 or (rate > 0.0 and random.random() < rate)

    def offer(self, event: Callable[[], InferenceLogged]) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.LOG_DROPPED.inc()
            return False
        return True

    def start(self, producer: EventProducer) -> None:
        self._task = asyncio.create_task(self._drain(producer), name="inference-log-drain")

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), flush_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _drain(self, producer: EventProducer) -> None:
        while True:
            make = await self._queue.get()
            try:
                envelope = _envelope(make)
                if envelope is None:
                    continue
                ack = await producer.publish_nowait(envelope)
                ack.add_done_callback(_count_ack)
            except Exception as exc:  # Kafka down: count, pause, keep draining
                metrics.LOG_FAILED.inc()
                log.warning("inference.logged not sent: %s", exc)
                await asyncio.sleep(0.5)
            finally:
                self._queue.task_done()


def _envelope(make: Callable[[], InferenceLogged]) -> Envelope[InferenceLogged] | None:
    try:
        event = make()
        return new_event(event, source=SOURCE, subject=event.request_id)
    except Exception:  # a bug in what the gateway logged: say so, keep draining
        metrics.LOG_FAILED.inc()
        log.exception("inference.logged could not be built")
        return None


def _count_ack(fut: asyncio.Future[object]) -> None:
    if fut.cancelled() or fut.exception() is not None:
        metrics.LOG_FAILED.inc()
    else:
        metrics.LOG_SENT.inc()
