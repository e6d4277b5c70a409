"""evaluation.requested in, evaluation.completed / .failed out, through a real Tansu broker,
with the real SmolLM2 (candidate) and Gemma-3 (champion) llama.cpp servers."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from schemas.candidate import CandidateSpec, Decoding
from schemas.envelope import Envelope, new_event
from schemas.events.evaluations import TOPIC, EvaluationRequested
from schemas.task import DatasetRef
from services.evaluator.handlers.requested import Deps, handle_requested
from shared import blobs
from shared.bus.consumer import EventConsumer
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.datasets import BUILTIN_TASKS
from shared.process import free_port
from tests.integration.bus.helpers import run_until

RESULT_TYPES = {"io.challenger.evaluation.completed", "io.challenger.evaluation.failed"}


def _spec(name: str, model: str, url: str) -> CandidateSpec:
    return CandidateSpec(name=name, model=model, task="sentiment", engine="llamacpp", endpoint=url,
                         decoding=Decoding(max_tokens=3))


def _request(uid: str, home: Path, candidate: CandidateSpec, champion: CandidateSpec) -> EvaluationRequested:
    builtin = BUILTIN_TASKS["sentiment"]
    uri, sha = blobs.put(home, builtin.golden_path.read_bytes())
    ref = DatasetRef(dataset_id=f"ds-{uid}", name="sentiment", uri=uri, sha256=sha, items=80)
    return EvaluationRequested(evaluation_id=f"ev-{uid}", candidate_id=f"cand-{uid}", champion_id=f"champ-{uid}",
                               task="sentiment", candidate=candidate, champion=champion,
                               task_spec=builtin.spec.model_copy(update={"datasets": [ref]}), kinds=["accuracy"],
                               max_items=10, concurrency=2)


@contextlib.asynccontextmanager
async def evaluator(broker: str, uid: str, home: Path, producer: EventProducer) -> Any:
    """The real handler behind a consumer of its own group, limited to this test's requests."""
    deps = Deps(producer=producer, reports_dir=home / "reports", blob_root=home)

    async def mine(env: Envelope[Any]) -> None:
        if env.data.evaluation_id.endswith(uid):
            await partial(handle_requested, deps=deps)(env)

    consumer = EventConsumer(broker, [TOPIC], f"evaluator-{uid}", mine, dlq=producer,
                             types={EvaluationRequested.event_type})
    stop = asyncio.Event()
    await consumer.start()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await consumer.stop()


async def results_for(broker: str, uid: str, producer: EventProducer, want: int, timeout: float,
                      group: str = "listen") -> list:
    """This test's result events, read from the start of the topic by a fresh group."""
    seen: list[Envelope[Any]] = []

    async def keep(env: Envelope[Any]) -> None:
        if env.data.evaluation_id.endswith(uid):
            seen.append(env)

    listener = EventConsumer(broker, [TOPIC], f"{group}-{uid}", keep, dlq=producer, types=RESULT_TYPES)
    await run_until(listener, lambda: len(seen) >= want, timeout=timeout)
    return seen


@pytest.mark.models
async def test_smollm2_vs_gemma3_through_kafka_and_redelivery_republishes(
        broker: str, smollm2_url: str, gemma3_url: str, uid: str, tmp_path: Path) -> None:
    await ensure_topics(broker)
    req = _request(uid, tmp_path, _spec("smollm2", "smollm2", smollm2_url), _spec("gemma3", "gemma3", gemma3_url))
    async with EventProducer(broker) as producer, evaluator(broker, uid, tmp_path, producer):
        await producer.publish(new_event(req, source="test"))
        [first] = await results_for(broker, uid, producer, 1, timeout=90)  # ~30 s on an idle machine
        partial_lines = (Path(first.data.report_path).parent / "items.partial.jsonl").read_text().count("\n")
        await producer.publish(new_event(req, source="test"))  # a re-delivered command
        seen = await results_for(broker, uid, producer, 2, timeout=20, group="relisten")
    done = first.data
    assert first.type == "io.challenger.evaluation.completed", getattr(done, "reason", "")
    [acc] = done.accuracy
    assert acc.n == 10 and acc.test == "mcnemar_exact" and acc.verdict in {"better", "worse",
                                                                           "no_significant_difference"}
    assert acc.ci_low <= acc.difference <= acc.ci_high
    assert done.tokens.candidate_input > 0 and done.tokens.champion_input > 0
    assert Path(done.report_path).exists() and blobs.get(done.results_uri, done.results_sha256).count(b"\n") == 20  # noqa: ASYNC240
    assert len(seen) == 2 and seen[1].data == done and seen[1].causationid != first.causationid
    assert (Path(done.report_path).parent / "items.partial.jsonl").read_text().count("\n") == partial_lines


async def test_unreachable_endpoint_and_bad_dataset_yield_evaluation_failed(broker: str, uid: str,
                                                                           tmp_path: Path) -> None:
    await ensure_topics(broker)
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = _request(uid, tmp_path, _spec("dead", "dead", dead), _spec("dead2", "dead", dead))
    ref = unreachable.task_spec.datasets[0].model_copy(update={"sha256": "0" * 64})
    task = unreachable.task_spec.model_copy(update={"datasets": [ref]})
    tampered = unreachable.model_copy(update={"evaluation_id": f"ev-tampered-{uid}", "task_spec": task})
    async with EventProducer(broker) as producer, evaluator(broker, uid, tmp_path, producer):
        await producer.publish_many([new_event(unreachable, source="test"), new_event(tampered, source="test")])
        seen = await results_for(broker, uid, producer, 2, timeout=40)
    reasons = {e.data.evaluation_id: e.data.reason for e in seen}
    assert [e.type for e in seen] == ["io.challenger.evaluation.failed"] * 2
    assert "unreachable" in reasons[f"ev-{uid}"] and dead.removeprefix("http://") in reasons[f"ev-{uid}"]
    assert "sha256" in reasons[f"ev-tampered-{uid}"]
