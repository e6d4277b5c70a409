"""Generates load for one level: open loop on an absolute schedule, or closed loop at a
fixed concurrency, and watches the client itself (event-loop lag, CPU share)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

from schemas.candidate import ProcessingStep
from services.loadtester.adapters.client import new_session, send
from services.loadtester.adapters.protocols import protocol_for
from services.loadtester.domain import arrivals
from services.loadtester.domain.profiles import LengthProfile
from services.loadtester.domain.prompts import PromptShape, Sizing, synthetic
from services.loadtester.domain.records import RequestRecord
from services.loadtester.domain.replies import finish_reply

OPEN_LOOP = ("poisson", "gamma", "constant")


@dataclass
class LevelPlan:
    url: str
    model: str
    protocol: str = "openai-chat"
    mode: str = "concurrency"  # concurrency | poisson | gamma | constant
    level: float = 1.0  # streams, or requests/s
    requests: int = 20
    duration_s: float | None = None
    warmup: int = 0
    lengths: LengthProfile = field(default_factory=LengthProfile)
    seed: int = 0
    burstiness: float = 1.0
    timeout_s: float = 600.0
    api_key: str | None = None
    shape: PromptShape = field(default_factory=PromptShape)  # pre-processing, template, system prompt
    sizing: Sizing = field(default_factory=Sizing)  # filler words per prompt-token target
    postprocess: tuple[ProcessingStep, ...] = ()

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json"}
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out


@dataclass
class WorkerSlice:
    """Which share of a level one process runs; start_at is on the shared monotonic clock."""

    index: int = 0
    count: int = 1
    start_at: float | None = None


Progress = Callable[[RequestRecord], None]


CLOSED_LOOP_CAP = 1_000_000  # with only a duration, a closed loop runs until the clock stops it


def _bodies(plan: LevelPlan, n: int) -> Callable[[int], tuple[bytes, int, int]]:
    """Request body, input-token target and expected prompt tokens of request i; lengths
    cycle after the sampled n."""
    proto = protocol_for(plan.protocol)
    lengths = plan.lengths.sample(min(n, 10_000), plan.seed)

    def body(i: int) -> tuple[bytes, int, int]:
        i_len, o_len = lengths[i % len(lengths)]
        content, expected = synthetic(plan.shape, plan.sizing, i_len, salt=i)
        return json.dumps(proto.body(plan.model, content, o_len)).encode(), i_len, expected
    return body


class _LagProbe:
    """Event-loop lag: how late a 10 ms sleep wakes up."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.running = True

    async def run(self) -> None:
        while self.running:
            t = perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(perf_counter() - t - 0.01)


async def run_level(plan: LevelPlan, part: WorkerSlice | None = None,
                    progress: Progress | None = None) -> tuple[list[RequestRecord], dict[str, float]]:
    part = part or WorkerSlice()
    is_open = plan.mode in OPEN_LOOP
    if is_open:
        total = arrivals.count_for(plan.level, plan.requests, plan.duration_s)
    else:
        total = CLOSED_LOOP_CAP if plan.duration_s else plan.requests
    mine = range(part.index, total + plan.warmup, part.count)
    bodies = _bodies(plan, total + plan.warmup)
    headers = plan.headers()
    probe = _LagProbe()
    probe_task = asyncio.create_task(probe.run())
    cpu0, wall0 = time.process_time(), perf_counter()
    async with new_session(plan.timeout_s) as session:
        proto = protocol_for(plan.protocol)

        async def one(i: int, scheduled: float) -> RequestRecord:
            body, target, expected = bodies(i)
            rec = RequestRecord(scheduled=scheduled, sent=0.0, input_tokens=expected, input_target=target,
                                level=plan.level, warmup=i < plan.warmup)
            await send(session, plan.url, proto, body, rec, headers)
            finish_reply(rec, plan.postprocess)
            if progress is not None:
                progress(rec)
            return rec

        if is_open:
            records = await _open_loop(plan, part, mine, total, one)
        else:
            records = await _closed_loop(plan, part, mine, one)
    probe.running = False
    await probe_task
    return records, _client_figures(probe, records, cpu0, wall0, part)


def _client_figures(probe: _LagProbe, records: list[RequestRecord], cpu0: float, wall0: float,
                    part: WorkerSlice) -> dict[str, float]:
    """How busy the client itself was: its CPU share, event-loop lag and dispatch lag."""
    wall = perf_counter() - wall0
    lags = np.asarray(probe.lags or [0.0]) * 1000
    dispatch = np.asarray([r.sent - r.scheduled for r in records if r.scheduled] or [0.0]) * 1000
    return {"cpu_share": (time.process_time() - cpu0) / wall if wall else 0.0,
            "loop_lag_p50_ms": float(np.percentile(lags, 50)), "loop_lag_p99_ms": float(np.percentile(lags, 99)),
            "dispatch_lag_p50_ms": float(np.percentile(dispatch, 50)),
            "dispatch_lag_p99_ms": float(np.percentile(dispatch, 99)), "workers": float(part.count)}


async def _open_loop(plan: LevelPlan, part: WorkerSlice, mine: range, total: int,
                     one: Callable[[int, float], object]) -> list[RequestRecord]:
    offsets = arrivals.schedule(plan.mode, plan.level, total + plan.warmup, plan.seed, plan.burstiness)
    start = part.start_at if part.start_at is not None else perf_counter() + 0.01
    tasks = []
    for i in mine:
        target = start + offsets[i]
        delay = target - perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, target)))  # type: ignore[arg-type]
    return list(await asyncio.gather(*tasks))


async def _closed_loop(plan: LevelPlan, part: WorkerSlice, mine: range,
                       one: Callable[[int, float], object]) -> list[RequestRecord]:
    if part.start_at is not None:
        await asyncio.sleep(max(0.0, part.start_at - perf_counter()))
    queue = iter(mine)
    streams = max(1, round(plan.level / part.count))
    deadline = perf_counter() + plan.duration_s if plan.duration_s else None
    out: list[RequestRecord] = []

    async def stream() -> None:
        for i in queue:
            if deadline is not None and perf_counter() > deadline:
                return
            out.append(await one(i, 0.0))  # type: ignore[misc]

    await asyncio.gather(*(stream() for _ in range(streams)))
    return out
