"""A request/reply service's replies: stored before sent, sent again to a repeated request
(without the work), and the consumer's hook that answers a duplicate instead of dropping it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import Envelope, EventData
from schemas.events.evaluations import EvaluationFailed
from schemas.events.models import ModelApproved, ModelSubmitted, StageChangeRejected
from shared.bus.consumer import EventConsumer
from shared.kit.inbox import FileInbox
from shared.kit.replies import Replies, save_reply, stored_reply
from shared.kit.service import Consumes, _consumer
from tests.unit.bus.events import submitted
from tests.unit.kit.test_service import FakeDlq


class FakeBus:
    """Records what a service publishes."""

    def __init__(self) -> None:
        self.sent: list[Envelope[Any]] = []

    async def publish(self, envelope: Envelope[Any]) -> None:
        self.sent.append(envelope)


def rejected(candidate_id: str) -> StageChangeRejected:
    return StageChangeRejected(candidate_id=candidate_id, to_stage="production", actor="deployer", reason="not legal")


def replies(tmp_path: Path, bus: FakeBus) -> Replies:
    return Replies(bus, "test", (StageChangeRejected, EvaluationFailed),  # type: ignore[arg-type]
                   lambda request: tmp_path / request.data.candidate_id)


async def test_the_work_runs_once_its_reply_is_stored_then_sent_again(tmp_path: Path) -> None:
    bus, works = FakeBus(), []

    async def work() -> EventData:
        works.append(1)
        return rejected("c-1")

    first, repeat = submitted("c-1"), submitted("c-1")
    assert await replies(tmp_path, bus).answer(first, work) is False
    assert await replies(tmp_path, bus).answer(repeat, work) is True  # a crash before the inbox mark
    assert works == [1]
    assert [e.data for e in bus.sent] == [rejected("c-1")] * 2
    assert [e.causationid for e in bus.sent] == [first.id, repeat.id]
    assert (tmp_path / "c-1" / "StageChangeRejected.json").exists()  # noqa: ASYNC240
    assert not list(tmp_path.rglob("*.tmp"))  # noqa: ASYNC240


async def test_replay_sends_the_stored_reply_and_nothing_when_there_is_none(tmp_path: Path) -> None:
    bus = FakeBus()
    save_reply(tmp_path / "c-1", rejected("c-1"))
    await replies(tmp_path, bus).replay(submitted("c-1"))
    await replies(tmp_path, bus).replay(submitted("c-2"))
    assert [e.data.candidate_id for e in bus.sent] == ["c-1"]


def test_a_reply_of_another_type_or_unreadable_is_none(tmp_path: Path) -> None:
    save_reply(tmp_path, rejected("c-1"))
    assert stored_reply(tmp_path, [EvaluationFailed]) is None
    (tmp_path / "EvaluationFailed.json").write_text('{"evaluation_id": ')  # torn: not a reply
    assert stored_reply(tmp_path, [EvaluationFailed]) is None
    assert stored_reply(tmp_path, [EvaluationFailed, StageChangeRejected]) == rejected("c-1")


async def test_a_duplicate_is_replayed_by_its_type_not_handled_again(tmp_path: Path) -> None:
    handled: list[str] = []
    replayed: list[str] = []

    async def handle(e: Envelope[Any]) -> None:
        handled.append(e.id)

    async def replay(e: Envelope[Any]) -> None:
        replayed.append(e.id)

    table = Consumes("g", {ModelSubmitted: handle, ModelApproved: handle}, dedup_key=lambda e: e.data.candidate_id,
                     replay={ModelSubmitted: replay})
    consumer = EventConsumer("127.0.0.1:1", table.topics, "g", table.dispatch, dlq=FakeDlq(),  # type: ignore[arg-type]
                             inbox=FileInbox(tmp_path), dedup_key=table.dedup_key,  # type: ignore[arg-type]
                             on_duplicate=table.redispatch)
    first, repeat = submitted("c-1"), submitted("c-1")
    for event in (first, repeat):
        assert await consumer._handle(event) is None  # noqa: SLF001
    assert handled == [first.id] and replayed == [repeat.id] and consumer.deduplicated == 1


async def test_the_kit_wires_replay_only_where_a_table_declares_it() -> None:
    class Svc:
        name = "svc"
        settings = type("S", (), {"kafka_bootstrap": "127.0.0.1:1"})()
        bus = FakeDlq()
        inbox = None

    async def h(_: Envelope[Any]) -> None: ...

    plain = _consumer(Svc(), Consumes("g", {ModelSubmitted: h}))  # type: ignore[arg-type]
    replying = _consumer(Svc(), Consumes("g", {ModelSubmitted: h}, replay={ModelSubmitted: h}))  # type: ignore[arg-type]
    assert plain._on_duplicate is None  # noqa: SLF001
    assert replying._on_duplicate is not None  # noqa: SLF001
