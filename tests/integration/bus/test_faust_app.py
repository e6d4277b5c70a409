"""The Faust app factory against the real Tansu broker: one agent over raw bytes, decoded by
shared.bus.codec, with the embedded timeouts (Tansu's JoinGroup waits the full rebalance timeout)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import faust

from schemas import Envelope
from shared.bus.codec import PoisonMessage, decode
from shared.bus.faust_app import create_app
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from tests.unit.bus.events import submitted


def _wire(app: faust.App, topic_name: str, seen: list[Envelope[Any]], poison: list[str]) -> None:
    topic = app.topic(topic_name)

    @app.agent(topic)
    async def collect(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                seen.append(decode(message.key, message.value, list(message.headers or ())))
            except PoisonMessage as exc:
                poison.append(exc.reason)


async def test_an_agent_decodes_typed_events_and_survives_poison(broker: str, uid: str, tmp_path: Path) -> None:
    topic_name = f"test-faust-{uid}"
    await ensure_topics(broker, {topic_name: 1})
    app = create_app(f"test-{uid}", broker, home=tmp_path)
    seen: list[Envelope[Any]] = []
    poison: list[str] = []
    _wire(app, topic_name, seen, poison)
    sent = [submitted(f"{uid}-{i}") for i in range(3)]
    async with EventProducer(broker) as producer:
        await producer.send_raw(topic_name, b"not an event", b"k", [])
        for event in sent:
            await producer.publish(event, topic=topic_name)

    await app.start()
    try:
        async with asyncio.timeout(40):
            while len(seen) < len(sent):
                await asyncio.sleep(0.1)
    finally:
        with contextlib.suppress(Exception):
            await app.stop()

    assert seen == sent
    assert poison == ["missing header ce_type"]


def test_embedded_settings_shorten_the_rebalance(tmp_path: Path) -> None:
    app = create_app("settings", "127.0.0.1:1", home=tmp_path)

    assert app.conf.broker_rebalance_timeout <= 5
    assert app.conf.broker_session_timeout <= 10
    assert str(app.conf.broker[0]) == "kafka://127.0.0.1:1"
