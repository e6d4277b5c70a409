"""Runs a sweep: levels in order, each spread over worker processes when one core is not
enough, stopping once throughput stops growing while latency climbs (saturation)."""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from time import perf_counter

from services.loadtester.adapters.generator import OPEN_LOOP, LevelPlan, Progress, WorkerSlice, run_level
from services.loadtester.domain.metrics import LevelSummary, Slo, is_cpu_bound, saturation_index, summarize
from services.loadtester.domain.records import RequestRecord


@dataclass
class SweepPlan:
    base: LevelPlan
    levels: list[float]
    slo: Slo = field(default_factory=Slo)
    workers: int = 0  # 0: auto (one process; more when the client is the bottleneck)
    stop_at_saturation: bool = True


@dataclass
class SweepResult:
    levels: list[LevelSummary]
    records: list[RequestRecord]
    saturated_at: float | None


LevelDone = Callable[[LevelSummary], None]


def _run_slice(plan: LevelPlan, part: WorkerSlice) -> tuple[list[RequestRecord], dict[str, float]]:
    return asyncio.run(run_level(plan, part))


def _ready(hold_s: float) -> int:
    """Runs once per worker before the level: by its end the process has started and
    imported the generator; holding it makes each worker take exactly one."""
    import time

    time.sleep(hold_s)
    return os.getpid()


async def run_spread(plan: LevelPlan, workers: int, progress: Progress | None = None
                     ) -> tuple[list[RequestRecord], dict[str, float]]:
    """One level on `workers` processes sharing one absolute start time; client figures
    are the worst worker's."""
    if workers <= 1:
        return await run_level(plan, progress=progress)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, _ready, 0.3) for _ in range(workers)))
        start_at = perf_counter() + 0.2  # every worker is up: one absolute start for all
        futures = [loop.run_in_executor(pool, _run_slice, plan, WorkerSlice(i, workers, start_at))
                   for i in range(workers)]
        parts = await asyncio.gather(*futures)
    records = [r for recs, _ in parts for r in recs]
    client = {k: max(c[k] for _, c in parts) for k in parts[0][1]}
    return records, client


CLIENT_CPU_S_PER_REQUEST = 0.0015  # measured: one short streamed request costs our client ~1.5 ms of CPU
TARGET_CORE_SHARE = 0.5  # leave each client core half idle so timestamps stay prompt


def workers_for(requested: int, mode: str, level: float) -> int:
    """Processes for a level: as asked, or (auto) enough for an open-loop rate to keep each
    client core half idle; closed loops start on one and double when it saturates."""
    if requested > 0:
        return requested
    if mode not in OPEN_LOOP:
        return 1
    need = math.ceil(level * CLIENT_CPU_S_PER_REQUEST / TARGET_CORE_SHARE)
    return max(1, min(os.cpu_count() or 1, need))


async def run_sweep(plan: SweepPlan, progress: Progress | None = None,
                    level_done: LevelDone | None = None) -> SweepResult:
    summaries: list[LevelSummary] = []
    records: list[RequestRecord] = []
    workers = 1
    for level in plan.levels:
        workers = max(workers, workers_for(plan.workers, plan.base.mode, level))
        level_plan = replace(plan.base, level=level, seed=plan.base.seed + len(summaries))
        recs, client = await run_spread(level_plan, workers, progress)
        target = level if plan.base.mode in OPEN_LOOP else None
        summary = summarize(level, recs, plan.slo, target, client)
        if is_cpu_bound(client) and plan.workers == 0 and workers < (os.cpu_count() or 1):
            workers = min(os.cpu_count() or 1, workers * 2)  # auto: rerun the level on more cores
            recs, client = await run_spread(level_plan, workers, progress)
            summary = summarize(level, recs, plan.slo, target, client)
        summaries.append(summary)
        records.extend(recs)
        if level_done is not None:
            level_done(summary)
        if plan.stop_at_saturation and saturation_index(summaries) is not None:
            break
        if summary.requests and summary.errors == summary.requests and "connect" in summary.errors_by_type:
            break  # nothing answers; more load will not change that
    sat = saturation_index(summaries)
    return SweepResult(summaries, records, summaries[sat].level if sat is not None else None)
