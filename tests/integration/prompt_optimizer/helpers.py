"""Run the prompt optimizer service on a real broker and collect its results by run id."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord

from schemas.envelope import Envelope, new_event
from schemas.events.prompts import TOPIC, PromptOptimizationRequested
from schemas.task import DatasetRef
from services.prompt_optimizer.bootstrap import bootstrap
from services.prompt_optimizer.entrypoints.http import create_app
from shared.blobs import put
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.datasets import BUILTIN_TASKS
from shared.settings import Settings
from tests.integration.bus.helpers import raw_records


def dataset_ref(home: Path, task: str, n: int, *, sha256: str | None = None) -> DatasetRef:
    lines = BUILTIN_TASKS[task].golden_path.read_bytes().splitlines(keepends=True)[:n]
    uri, digest = put(home, b"".join(lines))
    return DatasetRef(dataset_id=f"ds-{task}-{n}", name=f"{task}-{n}", uri=uri, sha256=sha256 or digest, items=n)


@contextlib.asynccontextmanager
async def running_service(broker: str, home: Path, uid: str) -> AsyncIterator[None]:
    app = create_app(bootstrap(Settings(home=home, kafka_bootstrap=broker), group=f"po-{uid}"))
    async with app.router.lifespan_context(app):
        yield


async def publish(broker: str, req: PromptOptimizationRequested) -> str:
    env = new_event(req, source="test")
    async with EventProducer(broker) as producer:
        await producer.publish(env)
    return env.id


def _is_result_of(run_id: str) -> Callable[[ConsumerRecord], bool]:
    def keep(record: ConsumerRecord) -> bool:
        try:
            env = decode(record.key, record.value, record.headers)
        except PoisonMessage:  # another test's deliberately bad bytes on the shared topic
            return False
        return getattr(env.data, "run_id", None) == run_id and "requested" not in env.type
    return keep


async def results_for(broker: str, run_id: str, want: int, timeout: float) -> list[Envelope[Any]]:
    """Every result event (not the request) of `run_id`, from the start of the topic."""
    records = await raw_records(broker, TOPIC, _is_result_of(run_id), want, timeout)
    return [decode(r.key, r.value, r.headers) for r in records]
