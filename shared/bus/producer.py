"""The typed producer: takes envelopes, never dicts."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace

from schemas import Envelope
from shared.bus.codec import encode
from shared.telemetry import current_traceparent

log = logging.getLogger(__name__)
tracer = trace.get_tracer("challenger.bus")


class EventProducer:
    def __init__(self, bootstrap: str, *, client_id: str = "challenger", linger_ms: int = 0) -> None:
        self.bootstrap = bootstrap
        self._config: dict[str, Any] = dict(bootstrap_servers=bootstrap, client_id=client_id, acks="all",
                                            linger_ms=linger_ms, request_timeout_ms=10_000)
        self._client: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._client is None:
            raise RuntimeError("the producer is not started: `await producer.start()` first")
        return self._client

    async def start(self) -> None:
        """Connect. The client is made here, in the running loop (aiokafka binds it to the
        loop), so a producer can be built before the loop runs (a service's bootstrap)."""
        self._client = AIOKafkaProducer(**self._config)
        await self._client.start()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish(self, envelope: Envelope[Any], *, topic: str | None = None) -> None:
        """Send and wait for the broker's acknowledgement."""
        await (await self.publish_nowait(envelope, topic=topic))

    async def publish_nowait(self, envelope: Envelope[Any], *, topic: str | None = None) -> Any:
        """Enqueue; returns a future that resolves on acknowledgement (batched sends)."""
        if envelope.traceparent is None and (tp := current_traceparent()):
            envelope = envelope.model_copy(update={"traceparent": tp})
        key, value, headers = encode(envelope)
        return await self._producer.send(topic or envelope.topic, value=value, key=key, headers=headers)

    async def publish_many(self, envelopes: Iterable[Envelope[Any]]) -> None:
        futures = [await self.publish_nowait(e) for e in envelopes]
        for f in futures:
            await f

    async def send_raw(self, topic: str, value: bytes | None, key: bytes | None,
                       headers: list[tuple[str, bytes]]) -> None:
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)
