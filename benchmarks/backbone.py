"""`make bench-backbone`: the event backbone and the registry's write path.

1. 1 KB events per second, end to end (produce -> Tansu -> consume), through our typed
   EventProducer and EventConsumer (CloudEvents Kafka binding, Pydantic validation at the
   boundary, DLQ plumbing, a tracing span per event, manual commits) beside raw aiokafka
   (json.dumps/json.loads of the same payload, the same producer acks and the same commit
   pattern, the same ce_* headers written by hand, so the same bytes on the wire) on the same
   broker in the same run, alternating rounds. Goal: ratio >= 0.7. Spans follow the standard
   OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables (default: every event traced).
   Also printed: this process's CPU time per event in the timed window (all threads), which
   other tenants of a shared machine disturb less than the end-to-end rate.
2. Registry submissions per second on SQLite and PostgreSQL (benchmarks/registry_bench.py).

Run: python -m benchmarks.backbone [--events 5000] [--rounds 3] [--registry-n 200] [--pg URL] [--skip-registry]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from opentelemetry import trace

from challenger.stack.broker import broker_proc
from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.models import ModelSubmitted
from shared.bus.codec import encode
from shared.bus.consumer import EventConsumer
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.process import free_port
from shared.telemetry import setup_tracing

PARTITIONS = 4
SPEC = {"name": "bench", "model": "smollm2", "task": "capitals", "engine": "llamacpp",
        "endpoint": "http://127.0.0.1:8301/v1"}


def payload(i: int, pad: int) -> dict[str, Any]:
    return {"candidate_id": f"cand-{i % 64}", "submitted_by": "bench", "spec": SPEC | {"tags": {"pad": "x" * pad}}}


def padding_for(size: int) -> int:
    """Pad so one encoded event (value bytes) is `size` bytes."""
    base = len(encode(typed_event(0, 0))[1])
    return max(0, size - base)


def typed_event(i: int, pad: int) -> Envelope[ModelSubmitted]:
    data = payload(i, pad)
    return new_event(ModelSubmitted(candidate_id=data["candidate_id"], submitted_by="bench",
                                    spec=CandidateSpec.model_validate(data["spec"])), source="bench")


def raw_headers(subject: str) -> list[tuple[str, bytes]]:
    """The same ce_* headers our events carry, written by hand: same bytes on the wire."""
    attrs = {"id": str(uuid.uuid4()), "source": "bench", "type": ModelSubmitted.event_type, "specversion": "1.0",
             "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "subject": subject,
             "dataschema": ModelSubmitted.dataschema(), "correlationid": str(uuid.uuid4())}
    return [("content-type", b"application/json")] + [(f"ce_{k}", v.encode()) for k, v in attrs.items()]


@dataclass
class Round:
    path: str
    events_per_s: float
    produce_s: float
    cpu_us: float  # this process's CPU time (every thread: loop, span writer) per event, timed window


@dataclass
class Timing:
    events_per_s: float
    produce_s: float
    cpu_us: float


async def _timed(n: int, assignment: Callable[[], Any], produce: Callable[[], Awaitable[None]],
                 count: Callable[[], int], stop: asyncio.Event, consuming: asyncio.Task[None]) -> Timing:
    """Once the consumer has its partitions: produce `n`, wait until `count()` reaches `n`;
    then stop the consuming task."""
    try:
        while not assignment():
            await asyncio.sleep(0.05)
        t0, cpu0 = time.perf_counter(), time.process_time()
        await produce()
        produced = time.perf_counter() - t0
        while count() < n:
            await asyncio.sleep(0.005)
        return Timing(n / (time.perf_counter() - t0), produced, (time.process_time() - cpu0) / n * 1e6)
    finally:
        stop.set()
        await consuming


async def typed_round(bootstrap: str, events: list[Envelope[Any]]) -> Round:
    n = len(events)
    topic = f"bench-typed-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    seen = 0

    async def handle(_event: Envelope[Any]) -> None:
        nonlocal seen
        seen += 1

    async with EventProducer(bootstrap, client_id="bench-typed") as producer:
        consumer = EventConsumer(bootstrap, [topic], f"g-{topic}", handle, dlq=producer)
        await consumer.start()
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))

        async def produce() -> None:
            futures = [await producer.publish_nowait(event, topic=topic) for event in events]
            await asyncio.gather(*futures)

        try:
            timing = await _timed(n, consumer.assignment, produce, lambda: seen, stop, task)
        finally:
            await consumer.stop()
    assert consumer.dead_lettered == 0
    return Round("typed", timing.events_per_s, timing.produce_s, timing.cpu_us)


async def raw_round(bootstrap: str, payloads: list[dict[str, Any]]) -> Round:
    n = len(payloads)
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    seen = 0
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-raw", acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{topic}", enable_auto_commit=False,
                                auto_offset_reset="earliest", session_timeout_ms=6_000, heartbeat_interval_ms=1_000,
                                rebalance_timeout_ms=3_000)
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()

    async def consume() -> None:
        nonlocal seen
        while not stop.is_set():
            for tp, records in (await consumer.getmany(timeout_ms=200, max_records=100)).items():
                for record in records:
                    json.loads(record.value)
                    {name: raw.decode() for name, raw in record.headers}
                    seen += 1
                await consumer.commit({tp: records[-1].offset + 1})

    async def produce() -> None:
        futures = [await producer.send(topic, json.dumps(data).encode(), key=data["candidate_id"].encode(),
                                       headers=raw_headers(data["candidate_id"]))
                   for data in payloads]
        await asyncio.gather(*futures)

    task = asyncio.create_task(consume())
    try:
        timing = await _timed(n, consumer.assignment, produce, lambda: seen, stop, task)
    finally:
        await consumer.stop()
        await producer.stop()
    return Round("raw", timing.events_per_s, timing.produce_s, timing.cpu_us)


async def backbone(bootstrap: str, n: int, rounds: int, size: int) -> list[Round]:
    """Both paths get their messages ready-made (typed envelopes / dicts): what is timed is
    the transport, encode and decode. Building the typed events is reported on its own."""
    pad = padding_for(size)
    events = [typed_event(i, pad) for i in range(n)]
    payloads = [payload(i, pad) for i in range(n)]
    results: list[Round] = []
    await raw_round(bootstrap, payloads[:500])  # warm-up: connections, metadata
    for _ in range(rounds):
        results.append(await typed_round(bootstrap, events))
        results.append(await raw_round(bootstrap, payloads))
    return results


def construction_us(n: int, size: int) -> float:
    pad = padding_for(size)
    start = time.perf_counter()
    for i in range(n):
        typed_event(i, pad)
    return (time.perf_counter() - start) / n * 1e6


async def _typed_path(events: list[Envelope[Any]]) -> None:
    """What our producer and consumer add to a send and a receive, without the broker:
    encode, then the consumer's own handling of the record (decode, validation, the span)."""
    async def handle(_event: Envelope[Any]) -> None:
        return None

    consumer = EventConsumer("127.0.0.1:1", ["bench"], "g-bench", handle, dlq=None)  # type: ignore[arg-type]
    for offset, event in enumerate(events):
        key, value, headers = encode(event)
        record = ConsumerRecord("bench", 0, offset, 0, 0, key, value, None, len(key), len(value), headers)
        await consumer._process(record)  # noqa: SLF001 - the per-record path run() takes
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]  # the span writer's share
    await consumer.stop()  # never started: only closes the client object


def _raw_path(payloads: list[dict[str, Any]]) -> None:
    for data in payloads:
        headers = raw_headers(data["candidate_id"])
        json.loads(json.dumps(data).encode())
        {name: raw.decode() for name, raw in headers}


def path_cpu_us(n: int, size: int, repeats: int = 7) -> dict[str, list[float]]:
    """CPU per event (this process, every thread) of each path's own work, no broker: a
    steadier measure than the end-to-end rate on a shared machine. Sorted, one per repeat."""
    pad = padding_for(size)
    events = [typed_event(i, pad) for i in range(n)]
    payloads = [payload(i, pad) for i in range(n)]
    runs: dict[str, list[float]] = {"typed": [], "raw": []}
    for _ in range(repeats):
        for path, run in (("typed", lambda: asyncio.run(_typed_path(events))), ("raw", lambda: _raw_path(payloads))):
            start = time.process_time()
            run()
            runs[path].append((time.process_time() - start) / n * 1e6)
    return {path: sorted(values) for path, values in runs.items()}


def summarize(results: list[Round], own: dict[str, list[float]], n: int, size: int) -> float:
    by_path = {path: [r for r in results if r.path == path] for path in ("typed", "raw")}
    median = {path: statistics.median(r.events_per_s for r in rs) for path, rs in by_path.items()}
    cpu = {path: statistics.median(r.cpu_us for r in rs) for path, rs in by_path.items()}
    print(f"\nbackbone: {n} events of {size} B per round, {len(by_path['typed'])} rounds each, "
          f"{PARTITIONS} partitions, acks=all, end to end (produce -> Tansu -> consume)")
    print(f"{'path':<34} {'median ev/s':>12} {'rounds ev/s':>28} {'CPU us/ev':>10}")
    labels = {"typed": "typed EventProducer/EventConsumer", "raw": "raw aiokafka + json"}
    for path, rs in by_path.items():
        print(f"{labels[path]:<34} {median[path]:>12.0f} {' '.join(f'{r.events_per_s:.0f}' for r in rs):>28} "
              f"{cpu[path]:>10.0f}")
    ratio = median["typed"] / median["raw"]
    print(f"ratio typed/raw: {ratio:.2f} (goal >= 0.70); CPU per event raw/typed: {cpu['raw'] / cpu['typed']:.2f}; "
          f"consumer spans: {_sampler()}")
    print(f"building one typed event (Pydantic validation of the payload), not timed above: "
          f"{construction_us(2000, size):.0f} us")
    print("each path's own work per event, no broker (CPU us, min / median of 7): " + "; ".join(
        f"{path} {values[0]:.0f} / {statistics.median(values):.0f}" for path, values in own.items()))
    return ratio


def _sampler() -> str:
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    return sampler.get_description() if sampler is not None else "none"


def run_backbone(n: int, rounds: int, size: int) -> float:
    with tempfile.TemporaryDirectory() as home:
        setup_tracing("bench-backbone", Path(home))  # spans are recorded, as in a running service
        proc = broker_proc(Path(home), free_port())
        proc.start()
        try:
            proc.wait_healthy()
            results = asyncio.run(backbone(f"127.0.0.1:{proc.port}", n, rounds, size))
            own = path_cpu_us(n, size)  # before the shutdown: the span writer's share counts
        finally:
            proc.stop()
            trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]  # flush before the dir goes
    return summarize(results, own, n, size)


def run_registry(n: int, pg_admin_url: str) -> None:
    from benchmarks import registry_bench

    rows = [registry_bench.compare("SQLite", registry_bench.fresh_sqlite, n),
            registry_bench.compare("PostgreSQL", lambda: registry_bench.fresh_postgres(pg_admin_url), n)]
    print(f"\nregistry submissions, n={n} each, in-process TestClient, one client")
    print(f"{'database':<12} {'registry/s':>11} {'bare insert/s':>14} {'ratio':>7}")
    for name, ours, bare in rows:
        print(f"{name:<12} {ours:>11.1f} {bare:>14.1f} {ours / bare:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path (alternating)")
    parser.add_argument("--size", type=int, default=1024, help="encoded event size in bytes")
    parser.add_argument("--registry-n", type=int, default=200, help="registry submissions per database")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL admin URL")
    parser.add_argument("--skip-registry", action="store_true")
    args = parser.parse_args()
    run_backbone(args.events, args.rounds, args.size)
    if not args.skip_registry:
        run_registry(args.registry_n, args.pg)


if __name__ == "__main__":
    main()
