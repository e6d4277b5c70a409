"""The typed consumer: decode at the boundary, dead-letter what cannot be decoded or handled,
skip what its inbox says was handled already, commit after handling (at-least-once).

`serve` keeps a consumer alive across broker restarts: a commit the restarted broker refuses
(it forgot the group) ends the run, and the consumer starts again with a fresh client, after
re-creating the catalogue's topics (the embedded broker forgets them). With the group's
offsets gone it reads from the earliest offset, so nothing re-sent by an outbox is skipped;
handlers dedupe what they had already applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from schemas import DLQ_TOPIC, Envelope
from shared.bus import metrics
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.kit.inbox import Inbox
from shared.telemetry import batch_span, event_span

log = logging.getLogger(__name__)

Handler = Callable[[Envelope[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Envelope[Any]]], Awaitable[None]]
DedupKey = Callable[[Envelope[Any]], str | None]  # None: this event is not deduplicated by the inbox


def by_event_id(envelope: Envelope[Any]) -> str:
    return envelope.id
LAG_EVERY_S = 1.0


def dead_letter_headers(record: ConsumerRecord, reason: str, consumer: str) -> list[tuple[str, bytes]]:
    extra = {
        "dlq_reason": reason[:2000],
        "dlq_topic": record.topic,
        "dlq_partition": str(record.partition),
        "dlq_offset": str(record.offset),
        "dlq_consumer": consumer,
    }
    return list(record.headers or ()) + [(k, v.encode()) for k, v in extra.items()]


class EventConsumer:
    """Consume `topics` as `group_id`; call `handler` per typed event, or, with `batch_handler`,
    once per fetched batch of a partition (a hot path then pays the per-call costs once per
    batch: a span, a journal write, a lock). A batch whose handler fails is handled again one
    event at a time through `handler`, so only the bad event is dead-lettered.

    A message that fails decoding, validation or (after `handler_attempts`) its handler is
    sent to `challenger.dlq` with the original key, bytes and headers and the reason; the
    consumer then moves on to the next message.

    With an `inbox`, each event is handled once per group: `dedup_key` (the event id unless
    the subscription declares a business id) is looked up before the handler runs and
    recorded with the handler's writes (see shared.kit.inbox). A batch handler dedupes in its
    own domain (the monitor's windows are keyed by request id). A request/reply service passes
    `on_duplicate`: a duplicate is then answered again (its stored reply, see shared.kit.replies)
    instead of dropped, since the first answer may have been lost with a broker that restarted
    empty; the work itself is not done again.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        handler: Handler,
        *,
        dlq: EventProducer,
        handler_attempts: int = 3,
        auto_offset_reset: str = "earliest",
        types: set[str] | None = None,
        batch_handler: BatchHandler | None = None,
        max_records: int = 100,
        service: str = "-",
        inbox: Inbox | None = None,
        dedup_key: DedupKey = by_event_id,
        on_duplicate: Handler | None = None,
        rebalance: Rebalance | None = None,
    ) -> None:
        self.group_id = group_id
        self.service = service
        self._handler = handler
        self._batch_handler = batch_handler
        self._max_records = max_records
        self._dlq = dlq
        self._attempts = handler_attempts
        self._types = types
        self._inbox = inbox
        self._dedup_key = dedup_key
        self._on_duplicate = on_duplicate
        self._rebalance = rebalance
        self.deduplicated = 0
        self._topics = tuple(topics)
        self._config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=6_000,
            heartbeat_interval_ms=1_000,
            rebalance_timeout_ms=3_000,
            metadata_max_age_ms=5_000,
        )
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(*self._topics, **self._config)
        self.handled = 0
        self.dead_lettered = 0
        self.restarts = 0
        self._next: dict[TopicPartition, int] = {}
        self._lag_at = 0.0
        self._handled_by_topic: dict[str, Any] = {}  # the HANDLED child of each topic, bound once
        # without an inbox the handler is called directly, not through the dedup step
        self._handle_event: Handler = self._handler if inbox is None else self._handle_once

    async def start(self) -> None:
        """Start (again): an aiokafka consumer cannot be restarted, so a restart after a crash
        gets a fresh one; committed offsets carry the position over."""
        if self._consumer._closed:  # noqa: SLF001 - aiokafka exposes no public flag
            self._consumer = AIOKafkaConsumer(*self._topics, **self._config)
        if self._rebalance is not None:
            self._consumer.subscribe(self._topics, listener=_Listener(self._rebalance))
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def serve(self, stop: asyncio.Event, restart_delay_s: float = 1.0) -> None:
        """Start and run until `stop`; after a crash (a broker restart, a refused commit),
        start again."""
        while not stop.is_set():
            try:
                if self.restarts:
                    await ensure_topics(self._bootstrap)
                await self.start()
                await self.run(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts += 1
                log.warning("consumer %s stopped (%s: %s); starting again in %.1fs",  # a bug gets its traceback
                            self.group_id, type(exc).__name__, exc, restart_delay_s,
                            exc_info=not isinstance(exc, KafkaError))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=restart_delay_s)
            finally:
                with contextlib.suppress(Exception):
                    await self.stop()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._max_records)
            for tp, records in batches.items():
                if tp not in self._consumer.assignment():
                    continue  # revoked since the fetch: its new owner reads it from the committed offset
                _consuming.set(tp)
                if self._batch_handler is not None:
                    await self._process_batch(records, self._batch_handler)
                else:
                    for record in records:
                        await self._process(record)
                await self._consumer.commit({tp: records[-1].offset + 1})
                self._next[tp] = records[-1].offset + 1
            if time.monotonic() - self._lag_at >= LAG_EVERY_S:
                self._lag_at = time.monotonic()
                self.lag()

    def lag(self) -> dict[str, int]:
        """Per assigned partition read so far: the end offset its last fetch saw minus the next
        offset to handle (no broker round trip)."""
        assigned = self._consumer.assignment()
        ends = {tp: self._consumer.highwater(tp) for tp in self._next if tp in assigned}
        lags = {tp: max(0, end - self._next[tp]) for tp, end in ends.items() if end is not None}
        for tp, lag in lags.items():
            metrics.LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(lag)
        return {f"{tp.topic}:{tp.partition}": lag for tp, lag in lags.items()}

    async def _process_batch(self, records: list[ConsumerRecord], handle: BatchHandler) -> None:
        decoded = []
        for record in records:
            envelope = self._decoded(record)
            if isinstance(envelope, PoisonMessage):
                await self._dead_letter(record, envelope.reason)
            elif envelope is not None:
                decoded.append((record, envelope))
        if not decoded:
            return
        try:
            with batch_span([e for _, e in decoded], self.group_id):
                await handle([e for _, e in decoded])
            self.handled += len(decoded)
        except Exception:  # find the bad event: one at a time, each with its retries
            log.exception("batch handler failed for %d event(s); handling them one by one", len(decoded))
            for record, envelope in decoded:
                await self._handled_or_dead(record, envelope)

    async def _process(self, record: ConsumerRecord) -> None:
        envelope = self._decoded(record)
        if isinstance(envelope, PoisonMessage):
            await self._dead_letter(record, envelope.reason)
        elif envelope is not None:
            await self._handled_or_dead(record, envelope)

    def _decoded(self, record: ConsumerRecord) -> Envelope[Any] | PoisonMessage | None:
        """The typed event; None if of a type not subscribed; why not, if undecodable (the
        caller dead-letters it). Not a coroutine: one less per event on the hot path."""
        try:
            envelope = decode(record.key, record.value, record.headers or ())
        except PoisonMessage as exc:
            return exc
        return envelope if self._types is None or envelope.type in self._types else None

    async def _handled_or_dead(self, record: ConsumerRecord, envelope: Envelope[Any]) -> None:
        error = await self._handle(envelope)
        if error is not None:
            await self._dead_letter(record, error)
        else:
            self.handled += 1
            counter = self._handled_by_topic.get(record.topic)
            if counter is None:  # labels() per event cost more than the increment
                counter = self._handled_by_topic[record.topic] = metrics.HANDLED.labels(
                    self.service, self.group_id, record.topic)
            counter.inc()

    async def _handle(self, envelope: Envelope[Any]) -> str | None:
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                with event_span(envelope, self.group_id):
                    await self._handle_event(envelope)
                return None
            except Exception as exc:  # a handler bug must not stop the consumer
                last = f"handler failed after {attempt} attempt(s): {type(exc).__name__}: {exc}"
                log.exception("handler failed for %s %s", envelope.type, envelope.id)
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        return last

    async def _handle_once(self, envelope: Envelope[Any]) -> None:
        key = self._dedup_key(envelope) if self._inbox is not None else None
        if key is None or self._inbox is None:  # this event is not deduplicated
            await self._handler(envelope)
            return
        with self._inbox.once(self.group_id, key, envelope.type) as fresh:
            if fresh:
                await self._handler(envelope)
                return
        self.deduplicated += 1
        metrics.DEDUPLICATED.labels(self.service, self.group_id, envelope.topic).inc()
        if self._on_duplicate is not None:
            await self._on_duplicate(envelope)

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        headers = dead_letter_headers(record, reason, self.group_id)
        await self._dlq.send_raw(DLQ_TOPIC, record.value, record.key, headers)
        self.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(self.service, self.group_id, record.topic).inc()

    async def seek_to_end(self) -> None:
        parts = self._consumer.assignment()
        await self._consumer.seek_to_end(*parts)

    def assignment(self) -> set[TopicPartition]:
        return self._consumer.assignment()


_consuming: ContextVar[TopicPartition | None] = ContextVar("consuming", default=None)


def consuming() -> TopicPartition | None:
    """The partition whose records the running handler was given (None outside a consumer): a
    handler that keeps state per partition (the monitor's window journal) files it under this."""
    return _consuming.get()


class Rebalance(Protocol):
    """What the owner of a consumer does when its group moves partitions (`Consumes.rebalance`):
    `revoked` before this member gives up what it held, `assigned` once it has its new set and
    before it fetches from it. Every member's `revoked` runs before any member's `assigned`."""

    async def revoked(self, partitions: set[TopicPartition]) -> None: ...

    async def assigned(self, partitions: set[TopicPartition]) -> None: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, hook: Rebalance) -> None:
        self._hook = hook

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._hook.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._hook.assigned(set(assigned))
