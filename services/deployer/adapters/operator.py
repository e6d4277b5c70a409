"""Operators' manual moves: a stage_change.requested on the bus (the same path the deployer
uses, so the registry checks, applies and records it), then the registry's answer, with an
audit line in $CHALLENGER_HOME/audit/operator.jsonl."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import new_event
from schemas.events import models
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer


@dataclass(frozen=True)
class MoveOutcome:
    candidate_id: str
    to_stage: str
    actor: str
    status: str  # applied | refused | no_answer
    detail: str
    request_id: str


async def request_move(bootstrap: str, candidate_id: str, to_stage: str, *, actor: str, reason: str,
                       wait_s: float = 15.0) -> MoveOutcome:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(models.TOPIC, p) for p in sorted(consumer.partitions_for_topic(models.TOPIC)
                                                                 or await _partitions(consumer))]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end offsets now, before our request lands
            await consumer.position(tp)
        envelope = new_event(models.StageChangeRequested(candidate_id=candidate_id, to_stage=to_stage, actor=actor,
                                                         reason=reason), source="challenger-cli")
        async with EventProducer(bootstrap, client_id="challenger-cli") as producer:
            await producer.publish(envelope)
        status, detail = await _answer(consumer, candidate_id, to_stage, wait_s)
        return MoveOutcome(candidate_id, to_stage, actor, status, detail, envelope.id)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer) -> set[int]:
    await consumer.topics()
    return consumer.partitions_for_topic(models.TOPIC) or {0}


async def _answer(consumer: AIOKafkaConsumer, candidate_id: str, to_stage: str, wait_s: float) -> tuple[str, str]:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=300)
        for record in (r for records in batches.values() for r in records):
            try:
                ev = decode(record.key, record.value, record.headers or ())
            except PoisonMessage:
                continue
            data = ev.data
            if getattr(data, "candidate_id", None) != candidate_id or getattr(data, "to_stage", None) != to_stage:
                continue
            if isinstance(data, models.ModelStageChanged):
                return "applied", f"{data.from_stage} -> {data.to_stage} by {data.actor}"
            if isinstance(data, models.StageChangeRejected):
                return "refused", data.reason
        await asyncio.sleep(0)
    return "no_answer", f"no answer from the registry within {wait_s:g}s (the request is on {models.TOPIC})"


def audit(home: Path, command: str, outcome: MoveOutcome) -> Path:
    path = home / "audit" / "operator.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"at": datetime.now(UTC).isoformat(), "command": command, **asdict(outcome)}
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return path
