"""What the broker holds now: a partition's end offset and the event id stored at an offset.

The outbox relay asks this to tell whether the log still holds what the broker acknowledged
(the embedded broker keeps nothing across a restart). A consumer without a group, so it
commits nothing and joins no rebalance; one per check (`async with`), so no record it
prefetched from an earlier log can answer for the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import OffsetOutOfRangeError
from aiokafka.structs import TopicPartition

from shared.bus.codec import PoisonMessage, attributes


class LogProbe:
    def __init__(self, bootstrap: str, *, timeout_s: float = 2.0) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> LogProbe:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        """End offset per partition; None when the broker has no such topic or partition."""
        consumer = await self._client()
        try:
            # Fresh metadata of every topic (a restarted broker may have none); the consumer's own
            # cache only knows the topics it was assigned.
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public call has partitions
            present = [tp for tp in partitions if tp.partition in (cluster.partitions_for_topic(tp.topic) or ())]
            ends: dict[TopicPartition, int | None] = dict.fromkeys(partitions)
            if present:
                ends |= await consumer.end_offsets(present)
            return ends
        except Exception:
            await self.close()  # a broken connection is not reused
            raise

    async def ids_at(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, str | None]:
        """The CloudEvents id of the record at each offset: "" if the record there has none (or
        the log skips that offset), None if the log ends before it (or shows nothing there
        within the probe's timeout)."""
        if not offsets:
            return {}
        consumer = await self._client()
        found: dict[TopicPartition, str | None] = {}
        try:
            consumer.assign(list(offsets))
            for tp, offset in offsets.items():
                consumer.seek(tp, offset)
            deadline = time.monotonic() + self._timeout_s
            while len(found) < len(offsets) and time.monotonic() < deadline:
                pending = [t for t in offsets if t not in found]
                try:
                    batches = await consumer.getmany(*pending, timeout_ms=200)
                except OffsetOutOfRangeError as exc:  # the log ends before that offset
                    found |= dict.fromkeys(exc.args[0] if exc.args and isinstance(exc.args[0], dict) else pending)
                    continue
                for tp, records in batches.items():
                    if records and tp not in found:
                        found[tp] = (_event_id(records[0].headers) or "") if records[0].offset == offsets[tp] else ""
            return {tp: found.get(tp) for tp in offsets}
        except Exception:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)

    async def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                        auto_offset_reset="none", request_timeout_ms=10_000,
                                        metadata_max_age_ms=1_000)
            await consumer.start()
            self._consumer = consumer
        return self._consumer


def _event_id(headers: object) -> str | None:
    try:
        return attributes(headers or ()).get("id")  # type: ignore[arg-type]
    except PoisonMessage:
        return None
