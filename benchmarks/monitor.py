"""`make bench-monitor`: the monitor's ingest rate through a real broker, the time from a
traffic shift to degradation.detected, and its drift step against calling Evidently directly
on the same data (the overhead ratio must stay <= 1.2).

* ingest: N inference.logged events are published first; then the monitor service (in
  process, real Tansu broker) consumes them, windows them and runs drift per window. The
  baseline is a bare aiokafka consumer reading the same records (no decoding, no work).
* time to detection: staging traffic becomes the reference; production traffic flows at a
  paced rate and shifts at a known instant; we time shift -> degradation.detected.
* drift overhead: our drift step (records -> feature frame -> Evidently DataDriftPreset ->
  parsed result) vs `Report([DataDriftPreset()]).run(current, reference)` on the prepared
  frames, interleaved, median of R runs, same process, same Evidently.

Run: python -m benchmarks.monitor [--records 3000 --window 250 --rate 200 --reps 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY

from benchmarks.fallback_path import deployer_serving, first_event, route_table
from challenger.stack.broker import broker_proc
from schemas.events import inference
from schemas.events.degradations import DegradationDetected
from schemas.events.deployments import FallbackActivated
from services.monitor.config import MonitorConfig
from services.monitor.domain.features import record_of
from services.monitor.domain.windows import WindowKey
from services.monitor.entrypoints.http import create_app
from services.monitor.handlers.monitor import warm_drift
from shared.bus.codec import encode
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.process import free_port
from shared.settings import Settings
from tests.unit.monitor.synthetic import stream


async def raw_rate(bootstrap: str, route_key: bytes, n: int) -> float:
    consumer = AIOKafkaConsumer(inference.TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    seen, first = 0, 0.0
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=100)
            got = sum(1 for rs in batches.values() for r in rs if r.key == route_key)
            first = first or (time.perf_counter() if got else 0.0)
            seen += got
        return (n - 1) / (time.perf_counter() - first)
    finally:
        await consumer.stop()


def counted(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def monitor_rate(home: Path, bootstrap: str, route: str, events: list[Any], window: int) -> dict[str, float]:
    """`events` are published first (and acknowledged); then the monitor service starts, warm
    (its drift worker has imported Evidently), and drains them as a backlog, as the bare read
    does. Timed by the monitor's batch handler itself: from the start of its first batch to the
    end of its last (ingest), and to the last window analysed. (Before, the records were sent
    from the same event loop while the monitor ran, and a task polling its counter timed it:
    the figure was the sender's pace, or nonsense when the sender held the loop: 957,316
    records/s once.)"""
    cfg = MonitorConfig(window_size=window, reference_size=window, html_reports=False, routes=[route])
    app = create_app(Settings(home=home, kafka_bootstrap=bootstrap), cfg, group=f"bench-{uuid.uuid4().hex[:6]}")
    service = app.state.service
    monitor = service.monitor
    handle_batch, stamps = monitor.handle_batch, {"first": 0.0, "last": 0.0, "records": 0}

    async def timed(envelopes: list[Any]) -> None:
        stamps["first"] = stamps["first"] or time.perf_counter()
        await handle_batch(envelopes)
        stamps["last"], stamps["records"] = time.perf_counter(), stamps["records"] + len(envelopes)

    monitor.handle_batch = timed  # type: ignore[method-assign]  # before the kit builds the consumer
    await asyncio.wrap_future(service.executor.submit(warm_drift))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(inference.TOPIC, value=v, key=k, headers=h)
                               for k, v, h in (encode(e) for e in events)])
    finally:
        await producer.stop()
    n, max_lag = len(events), 0
    async with app.router.lifespan_context(app):
        consumer = service.consumers[0]
        while stamps["records"] < n:
            max_lag = max(max_lag, *consumer.lag().values(), 0)
            await asyncio.sleep(0.01)
        ingested = stamps["last"] - stamps["first"]
        await monitor.drain()
        analysed = time.perf_counter() - stamps["first"]
        windows = len(monitor.deps.store.logged_windows(route))
    return {"monitor_rps": n / ingested, "analysed_rps": n / analysed, "windows": windows,
            "rules_only": int(counted("challenger_monitor_drift_skipped_total")), "max_lag": max_lag}


async def bench_ingest(home: Path, bootstrap: str, n: int, window: int, faust_n: int) -> dict[str, float]:
    route = f"ingest{uuid.uuid4().hex[:6]}"
    events = stream(n, shift_at=None, route=route)
    ours = await monitor_rate(home / "ingest", bootstrap, route, events, window)
    raw = await raw_rate(bootstrap, route.encode(), n)  # the same records, read again from the topic
    faust: dict[str, float] = {}
    if faust_n:  # faust-streaming is the `bench` extra (make bench-monitor installs it)
        from benchmarks.monitor_faust import faust_rate

        faust = await faust_rate(home / "faust", bootstrap, route, min(n, faust_n))
    return {"records": n, "window": window, "raw_rps": raw, **ours, **faust}


async def bench_detection(home: Path, bootstrap: str, window: int, rate: float) -> dict[str, Any]:
    """Shift onset -> the monitor's `degradation.detected` -> the deployer's `fallback.activated`,
    each read from the broker as an operator's consumer reads it; the deployer runs beside the
    monitor on the same broker and holds the route with a fallback for the shifted candidate."""
    route = f"detect{uuid.uuid4().hex[:6]}"
    cfg = MonitorConfig(window_size=window, reference_size=2 * window, html_reports=True, routes=[route])
    app = create_app(Settings(home=home / "detect", kafka_bootstrap=bootstrap), cfg, group=f"bench-{route}")
    table = route_table(route, serving="cand-a", fallback="cand-b")  # cand-a: stream()'s candidate
    async with (app.router.lifespan_context(app), EventProducer(bootstrap) as producer,
                deployer_serving(home / "detect-deployer", bootstrap, table)):
        await producer.publish_many(stream(2 * window, shift_at=None, route=f"{route}-staging", prefix="s"))
        monitor = app.state.service.monitor
        while len(monitor.reference(WindowKey(route, "cand-a"))) < 2 * window:
            await asyncio.sleep(0.05)
        await app.state.service.drift_ready  # the service's warm-up: Evidently imported in its worker
        normal, shifted = stream(2 * window, shift_at=None, route=route), stream(6 * window, shift_at=0, route=route,
                                                                                  prefix="x")
        async with (first_event(bootstrap, DegradationDetected, route, 300) as detected,
                    first_event(bootstrap, FallbackActivated, route, 300) as fell_back):
            lags = asyncio.create_task(max_lag(app.state.service.consumers[0]))
            await paced(producer, normal, rate)
            shift_at, shift_wall = time.perf_counter(), time.time()
            sender = asyncio.create_task(paced(producer, shifted, rate))
            at = {"detect": await detected, "fallback": await fell_back}
            sender.cancel()
            lags.cancel()
    return {"window": window, "rate": rate, "fired": len(monitor.fired), "max_lag": LAG_SEEN[-1] if LAG_SEEN else 0,
            **{f"{k}_s": None if seen is None else seen.read_at - shift_at for k, seen in at.items()},
            **{f"{k}_created_s": None if seen is None else seen.created_at - shift_wall for k, seen in at.items()}}


LAG_SEEN: list[int] = []


async def max_lag(consumer: Any) -> None:
    """The largest lag behind the partition's end seen while traffic flows (into LAG_SEEN)."""
    while True:
        LAG_SEEN.append(max([*consumer.lag().values(), *LAG_SEEN[-1:], 0]))
        await asyncio.sleep(0.05)


async def paced(producer: EventProducer, events: list[Any], rate: float) -> None:
    start = time.perf_counter()
    for i, e in enumerate(events):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await producer.publish_nowait(e)


def bench_drift(reps: int, ref_n: int, cur_n: int) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from services.monitor.adapters.drift import frame, stattest_drift, usable_columns

    reference = [record_of(e.data, e.time.timestamp()) for e in stream(ref_n, shift_at=None, seed=1)]
    current = [record_of(e.data, e.time.timestamp()) for e in stream(cur_n, shift_at=cur_n // 2, seed=2)]
    ref_df, cur_df = frame(reference), frame(current)
    cols = usable_columns(ref_df, cur_df)
    ref_df, cur_df = ref_df[cols], cur_df[cols]

    binary = [c for c in cols if c in ("refusal", "json_valid", "error")]  # 0/1 flags are categories
    dd = DataDefinition(numerical_columns=[c for c in cols if c not in binary], categorical_columns=binary)

    def direct() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Report([DataDriftPreset()]).run(current_data=Dataset.from_pandas(cur_df, data_definition=dd),
                                            reference_data=Dataset.from_pandas(ref_df, data_definition=dd))

    def ours() -> None:
        stattest_drift(reference, current)

    ours(), direct()  # warm-up
    wall: dict[str, list[float]] = {"ours": [], "direct": []}
    cpu: dict[str, list[float]] = {"ours": [], "direct": []}
    for _ in range(reps):
        for name, fn in (("ours", ours), ("direct", direct)):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {"columns": len(cols), **{f"{k}_s": statistics.median(v) for k, v in wall.items()},
            **{f"{k}_cpu_s": statistics.median(v) for k, v in cpu.items()}}


def ks_power(ref_n: int, cur_n: int, shifts: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5), trials: int = 400,
             alpha: float = 0.05) -> dict[float, float]:
    """The drift test's power at the sampled sizes: how often the two-sample K-S test (Evidently's
    choice for a numeric column) flags a normal column whose mean moved by `shift` standard
    deviations, at Evidently's threshold (p <= alpha). Simulated, seeded."""
    import numpy as np
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(16)
    return {shift: float(np.mean([ks_2samp(rng.normal(0, 1, ref_n), rng.normal(shift, 1, cur_n)).pvalue <= alpha
                                  for _ in range(trials)])) for shift in (0.0, *shifts)}


async def main(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    port = free_port()
    proc = broker_proc(home, port)
    proc.start()
    try:
        proc.wait_healthy()
        bootstrap = f"127.0.0.1:{port}"
        await ensure_topics(bootstrap)
        drift = await asyncio.to_thread(bench_drift, args.reps, args.reference, args.window)
        print(f"drift per window ({args.reference} reference vs {args.window} current records, "
              f"{drift['columns']} feature columns, median of {args.reps}):")
        print("                                   wall ms    CPU ms")
        print(f"  monitor drift step (per-column)  {drift['ours_s'] * 1000:8.1f}  {drift['ours_cpu_s'] * 1000:8.1f}")
        print(f"  Evidently Report directly        {drift['direct_s'] * 1000:8.1f}  "
              f"{drift['direct_cpu_s'] * 1000:8.1f}")
        print(f"  ours/Evidently                   {drift['ours_s'] / drift['direct_s']:8.3f}  "
              f"{drift['ours_cpu_s'] / drift['direct_cpu_s']:8.3f}  (same tests, same decisions; no rendering)")
        power = ks_power(args.reference, args.window)
        print(f"  K-S power at {args.reference} vs {args.window} (p <= 0.05), mean shift in SD -> detection rate: "
              + ", ".join(f"{k:g}: {v:.2f}" for k, v in power.items()))
        if args.drift_only:
            return
        ingest = await bench_ingest(home, bootstrap, args.records, args.window, args.faust_records)
        print(f"ingest through Tansu ({ingest['records']} records, window {ingest['window']}, "
              f"{ingest['windows']} windows, {ingest['rules_only']} of them rules-only: drift backlog full):")
        print(f"  monitor ingest      {ingest['monitor_rps']:8.0f} records/s  (features + windows + journal)")
        print(f"  monitor analysed    {ingest['analysed_rps']:8.0f} records/s  (until every window's drift is done)")
        raw = ingest["raw_rps"]
        print(f"  bare aiokafka read  {raw:8.0f} records/s  (analysed/raw {ingest['analysed_rps'] / raw:.3f}, "
              f"ingest/raw {ingest['monitor_rps'] / raw:.3f})")
        print(f"  largest consumer lag while a backlog of {ingest['records']} drained: {ingest['max_lag']}")
        if "faust_rps" in ingest:
            faust_n = min(args.records, args.faust_records)
            print(f"  Faust table path    {ingest['faust_rps']:8.0f} records/s  (decode + features + a changelog-"
                  f"backed tumbling-window count; {faust_n} records; faust/raw {ingest['faust_rps'] / raw:.3f})")
        det = await bench_detection(home, bootstrap, args.detect_window, args.rate)
        shown = "not detected" if det["detect_s"] is None else (
            f"{det['detect_s']:.2f} s (by the event's CreateTime: {det['detect_created_s']:.2f} s)")
        print(f"shift onset -> degradation.detected (window {det['window']}, {det['rate']:.0f} records/s, "
              f"k=2 of m=3, HTML report rendered before publishing): {shown}; largest lag {det['max_lag']}")
        shown = "no fallback" if det["fallback_s"] is None else (
            f"{det['fallback_s']:.2f} s (by the event's CreateTime: {det['fallback_created_s']:.2f} s)")
        print(f"shift onset -> fallback.activated (the deployer on the same broker moves the route to its "
              f"fallback): {shown}")
    finally:
        proc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--reference", type=int, default=500)
    parser.add_argument("--detect-window", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--drift-only", action="store_true", help="only the drift overhead comparison")
    parser.add_argument("--faust-records", type=int, default=3000, help="records through the Faust path (0: skip)")
    asyncio.run(main(parser.parse_args()))
