"""The kit's consumer table and the consumer's dedup step, with test doubles (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import Envelope
from schemas.events.models import ModelApproved, ModelSubmitted
from shared.bus.consumer import EventConsumer
from shared.kit.inbox import FileInbox
from shared.kit.service import Consumes
from tests.unit.bus.events import submitted


class FakeDlq:
    async def send_raw(self, *args: Any) -> None:
        raise AssertionError("nothing is dead-lettered here")


def test_consumes_derives_topics_and_types_from_its_table() -> None:
    async def h(_: Envelope[Any]) -> None: ...

    c = Consumes("g", {ModelSubmitted: h, ModelApproved: h})
    assert c.topics == [ModelSubmitted.topic]
    assert c.types == {ModelSubmitted.event_type, ModelApproved.event_type}


async def test_dispatch_calls_the_handler_of_the_event_type() -> None:
    seen: list[str] = []

    async def on_submitted(e: Envelope[Any]) -> None:
        seen.append(e.data.candidate_id)

    async def on_approved(_: Envelope[Any]) -> None:
        raise AssertionError("wrong handler")

    await Consumes("g", {ModelSubmitted: on_submitted, ModelApproved: on_approved}).dispatch(submitted("c-7"))
    assert seen == ["c-7"]


async def test_the_consumer_skips_what_its_inbox_has_handled(tmp_path: Path) -> None:
    calls: list[str] = []

    async def handler(e: Envelope[Any]) -> None:
        calls.append(e.id)

    consumer = EventConsumer("127.0.0.1:1", ["t"], "g", handler, dlq=FakeDlq(),  # type: ignore[arg-type]
                             inbox=FileInbox(tmp_path), dedup_key=lambda e: e.data.candidate_id)
    first, resent = submitted("c-1"), submitted("c-1")  # a new event id, the same business id
    assert await consumer._handle(first) is None  # noqa: SLF001
    assert await consumer._handle(resent) is None  # noqa: SLF001
    assert calls == [first.id] and consumer.deduplicated == 1


async def test_a_failing_handler_is_not_marked_and_is_retried(tmp_path: Path) -> None:
    attempts: list[int] = []

    async def flaky(_: Envelope[Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    inbox = FileInbox(tmp_path)
    consumer = EventConsumer("127.0.0.1:1", ["t"], "g", flaky, dlq=FakeDlq(), inbox=inbox)  # type: ignore[arg-type]
    event = submitted()
    assert await consumer._handle(event) is None  # noqa: SLF001
    assert len(attempts) == 2 and inbox.handled("g", event.id)


async def test_a_key_of_none_bypasses_the_inbox(tmp_path: Path) -> None:
    calls: list[str] = []

    async def handler(e: Envelope[Any]) -> None:
        calls.append(e.id)

    inbox = FileInbox(tmp_path)
    consumer = EventConsumer("127.0.0.1:1", ["t"], "g", handler, dlq=FakeDlq(),  # type: ignore[arg-type]
                             inbox=inbox, dedup_key=lambda e: None)
    event = submitted()
    assert await consumer._handle(event) is None  # noqa: SLF001
    assert await consumer._handle(event) is None  # noqa: SLF001
    assert calls == [event.id, event.id] and not inbox.handled("g", event.id)
