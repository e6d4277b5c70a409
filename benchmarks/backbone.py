"""`make bench-backbone`: the event backbone and the registry's write path.

1. 1 KB events per second, end to end (produce -> Tansu -> consume), through our typed
   EventProducer and EventConsumer (CloudEvents Kafka binding, Pydantic validation at the
   boundary, DLQ plumbing, a consumer span per event under the production sampling default,
   manual commits) beside raw aiokafka on the same broker in the same run. Goal: ratio >= 0.8
   (issue 16). Spans follow what a service runs (shared.telemetry.production_sampler: 10 % of
   root traces, failed or slow handlers kept; OTEL_TRACES_SAMPLER / _ARG replace it).
   Fair by construction: both paths get ready-made inputs built before the clock (the typed
   envelopes; for raw, each envelope's payload as a dict, its key and its ce_* header strings,
   so ids and times are drawn outside the clock on both paths), and both serialize inside it
   (model_dump_json / json.dumps to the very same bytes, checked, headers to bytes); the raw
   consumer parses the JSON and the headers. Rounds run in ABBA order (typed, raw, raw,
   typed, ...) so a drift in the machine's load hits both paths alike.
   `--verify` checks each round against the broker, independently of the bench's own
   counter: the messages the topic holds, the group's committed offsets, the bytes per
   message, and the produce window from the records' CreateTime stamps.
   Also printed: this process's CPU time per event in the timed window (all threads), which
   other tenants of a shared machine disturb less than the end-to-end rate.
2. Registry submissions per second on SQLite and PostgreSQL (benchmarks/registry_bench.py).

Run: python -m benchmarks.backbone [--events 5000] [--rounds 3] [--registry-n 200] [--pg URL] [--skip-registry]
     [--verify]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
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


@dataclass(frozen=True)
class RawInput:
    """One typed event as the raw peer gets it: its payload as a dict, its key and its ce_*
    header values as text, all made before the clock (ids and times included)."""

    payload: dict[str, Any]
    key: str
    headers: list[tuple[str, str]]


def raw_input(event: Envelope[Any]) -> RawInput:
    key, value, headers = encode(event)
    payload = json.loads(value)
    if raw_value(payload) != value:
        raise AssertionError("the raw peer would not send the typed event's bytes")
    return RawInput(payload, key.decode(), [(name, raw.decode()) for name, raw in headers])


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps(separators=...) makes one per call


def raw_value(payload: dict[str, Any]) -> bytes:
    """The JSON text model_dump_json writes (compact separators, same key order), by the stdlib."""
    return _COMPACT.encode(payload).encode()


def raw_encode(item: RawInput) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return item.key.encode(), raw_value(item.payload), [(name, text.encode()) for name, text in item.headers]


def raw_decode(value: bytes, headers: Any) -> None:
    json.loads(value)
    {name: raw.decode() for name, raw in headers}


@dataclass
class Round:
    path: str
    events_per_s: float
    produce_s: float
    cpu_us: float  # this process's CPU time (every thread: loop, span writer) per event, timed window
    check: BrokerCheck | None = None


@dataclass
class BrokerCheck:
    """A round as the broker saw it (read after the round, outside the clock)."""

    on_topic: int  # messages read back from the topic's partitions
    committed: int  # the group's committed offsets, summed
    value_bytes: float  # mean value size of the messages read back
    create_window_s: float  # last - first CreateTime stamp: the produce window by the producer's stamps


async def broker_check(bootstrap: str, topic: str, group: str) -> BrokerCheck:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    await committer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]  # as ensure_topics made it
        committed = sum([await committer.committed(tp) or 0 for tp in parts])
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        sizes, stamps = [], []
        # read to the end rather than trusting end_offsets: Tansu's ListOffsets answered 557 for a
        # partition whose records ran to offset 563 (2026-12-07), below what the group committed
        while batches := await reader.getmany(timeout_ms=1000, max_records=1000):
            for records in batches.values():
                sizes += [len(r.value or b"") for r in records]
                stamps += [r.timestamp for r in records]
        return BrokerCheck(len(sizes), committed, statistics.mean(sizes), (max(stamps) - min(stamps)) / 1000)
    finally:
        await reader.stop()
        await committer.stop()


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


async def typed_round(bootstrap: str, events: list[Envelope[Any]], verify: bool = False) -> Round:
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
    check = await broker_check(bootstrap, topic, f"g-{topic}") if verify else None
    return Round("typed", timing.events_per_s, timing.produce_s, timing.cpu_us, check)


async def raw_round(bootstrap: str, inputs: list[RawInput], verify: bool = False) -> Round:
    n = len(inputs)
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
                    raw_decode(record.value, record.headers)
                    seen += 1
                await consumer.commit({tp: records[-1].offset + 1})

    async def produce() -> None:
        futures = []
        for item in inputs:
            key, value, headers = raw_encode(item)
            futures.append(await producer.send(topic, value, key=key, headers=headers))
        await asyncio.gather(*futures)

    task = asyncio.create_task(consume())
    try:
        timing = await _timed(n, consumer.assignment, produce, lambda: seen, stop, task)
    finally:
        await consumer.stop()
        await producer.stop()
    check = await broker_check(bootstrap, topic, f"g-{topic}") if verify else None
    return Round("raw", timing.events_per_s, timing.produce_s, timing.cpu_us, check)


async def backbone(bootstrap: str, n: int, rounds: int, size: int, verify: bool = False) -> list[Round]:
    """Both paths get their inputs ready-made before the clock (typed envelopes; their
    payloads, keys and header strings for raw): what is timed is encode, the transport and
    decode. Building the typed events is reported on its own. Rounds in ABBA order."""
    pad = padding_for(size)
    events = [typed_event(i, pad) for i in range(n)]
    inputs = [raw_input(event) for event in events]
    results: list[Round] = []
    await raw_round(bootstrap, inputs[:500])  # warm-up: connections, metadata
    await typed_round(bootstrap, events[:500])
    # The inputs of both paths (~200,000 objects with the imports) are frozen: a full collection
    # then walks only what the rounds themselves allocate. Without it, a typed round that
    # happened to trigger one paid ~150 ms (~30 us per event) for the bench's own inputs.
    gc.collect()
    gc.freeze()
    for i in range(rounds):
        for path in (("typed", "raw") if i % 2 == 0 else ("raw", "typed")):
            results.append(await (typed_round(bootstrap, events, verify) if path == "typed"
                                  else raw_round(bootstrap, inputs, verify)))
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


def _raw_path(inputs: list[RawInput]) -> None:
    for item in inputs:
        _key, value, headers = raw_encode(item)
        raw_decode(value, headers)


def path_cpu_us(n: int, size: int, repeats: int = 7) -> dict[str, list[float]]:
    """CPU per event (this process, every thread) of each path's own work, no broker: a
    steadier measure than the end-to-end rate on a shared machine. Sorted, one per repeat."""
    pad = padding_for(size)
    events = [typed_event(i, pad) for i in range(n)]
    inputs = [raw_input(event) for event in events]
    runs: dict[str, list[float]] = {"typed": [], "raw": []}
    for _ in range(repeats):
        for path, run in (("typed", lambda: asyncio.run(_typed_path(events))), ("raw", lambda: _raw_path(inputs))):
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
    print("round order (ABBA): " + " ".join(r.path for r in results))
    for r in results:
        if r.check is not None:
            c = r.check
            print(f"  broker check {r.path:<5}: {c.on_topic} on the topic, {c.committed} committed by the group, "
                  f"{c.value_bytes:.0f} B per value; produce window {r.produce_s * 1e3:.0f} ms by the bench's clock, "
                  f"{c.create_window_s * 1e3:.0f} ms by the records' CreateTime stamps")
            if c.on_topic != n or c.committed != n:
                raise AssertionError(f"the broker disagrees with the bench's count ({n}): {c}")
    ratio = median["typed"] / median["raw"]
    print(f"ratio typed/raw: {ratio:.2f} (goal >= 0.80); CPU per event raw/typed: {cpu['raw'] / cpu['typed']:.2f}; "
          f"consumer spans: {_sampler()}")
    print(f"building one typed event (Pydantic validation of the payload), not timed above: "
          f"{construction_us(2000, size):.0f} us")
    print("each path's own work per event, no broker (CPU us, min / median of 7): " + "; ".join(
        f"{path} {values[0]:.0f} / {statistics.median(values):.0f}" for path, values in own.items()))
    return ratio


def _sampler() -> str:
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    return sampler.get_description() if sampler is not None else "none"


def run_backbone(n: int, rounds: int, size: int, verify: bool = False) -> float:
    with tempfile.TemporaryDirectory() as home:
        setup_tracing("bench-backbone", Path(home))  # spans are recorded, as in a running service
        proc = broker_proc(Path(home), free_port())
        proc.start()
        try:
            proc.wait_healthy()
            results = asyncio.run(backbone(f"127.0.0.1:{proc.port}", n, rounds, size, verify))
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
    parser.add_argument("--verify", action="store_true", help="check each round against the broker (outside the clock)")
    args = parser.parse_args()
    run_backbone(args.events, args.rounds, args.size, args.verify)
    if not args.skip_registry:
        run_registry(args.registry_n, args.pg)


if __name__ == "__main__":
    main()
