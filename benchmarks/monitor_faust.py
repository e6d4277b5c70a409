"""The measured Faust attempt of issue 16: the monitor's per-record work (decode, features)
with its per-window state in a Faust table (tumbling windows keyed by route and candidate,
backed by a changelog topic) instead of the hand-written windows and journal. Run by
`make bench-monitor` beside the aiokafka path, on the same records and broker."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.faust_app import create_app
from schemas.events import inference
from services.monitor.domain.features import record_of
from shared.bus.codec import decode

WINDOW_S = 60.0


async def faust_rate(home: Path, bootstrap: str, route: str, n: int) -> dict[str, float]:
    """Records/s through a Faust agent that decodes, extracts the features and counts each
    record into its (route, candidate) tumbling window in a changelog-backed table."""
    app = create_app(f"bench-{uuid.uuid4().hex[:6]}", bootstrap, home=home)
    windows = app.Table("monitor-windows", default=int, partitions=None).tumbling(
        WINDOW_S, expires=timedelta(seconds=10 * WINDOW_S))
    seen: list[float] = []

    @app.agent(app.topic(inference.TOPIC))
    async def ingest(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            if m.key != route.encode():
                continue
            envelope = decode(m.key, m.value, list(m.headers or ()))
            record = record_of(envelope.data, envelope.time.timestamp())
            windows[f"{record.route}/{record.candidate_id}"] += 1
            seen.append(time.perf_counter())

    await app.start()
    try:
        async with asyncio.timeout(600):
            while len(seen) < n:
                await asyncio.sleep(0.05)
    finally:
        with contextlib.suppress(Exception):
            await app.stop()
    return {"faust_rps": (n - 1) / (seen[-1] - seen[0])}
