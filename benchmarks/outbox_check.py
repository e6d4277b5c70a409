"""What the outbox relay's log check costs when nothing was lost, and how long a relay takes to
send everything again after the broker restarted empty, with N sent rows retained.

    .venv/bin/python -m benchmarks.outbox_check [rows ...]      (default: 1000 20000)

A real Tansu broker and a SQLite outbox in a temp dir; rows spread over the catalogue's
pipeline topics by key. Prints one line per size.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import Session, SQLModel

from challenger.stack.broker import broker_proc
from schemas import new_event
from schemas.events.models import ModelApproved
from shared import outbox
from shared.bus.producer import EventProducer
from shared.bus.topics import ensure_topics
from shared.db import make_engine
from shared.process import Proc, free_port


async def measure(rows: int, home: Path) -> str:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    proc = _start(home, port)
    engine = make_engine(f"sqlite:///{home / f'outbox-{rows}.db'}")
    SQLModel.metadata.create_all(engine, tables=[outbox.OutboxEvent.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        for i in range(rows):
            outbox.add(session, new_event(ModelApproved(candidate_id=f"c-{i % 50}", approver="bench"), source="bench"))
        session.commit()
    try:
        await ensure_topics(bootstrap)
        async with EventProducer(bootstrap, linger_ms=5) as producer:
            relay = outbox.OutboxRelay(engine, producer, batch_size=500)
            while await relay.relay_once():
                pass
            await relay.check_log()  # the first check reads every partition once
            checks = []
            for _ in range(10):
                t0 = time.perf_counter()
                assert await relay.check_log() == 0
                checks.append(time.perf_counter() - t0)
            proc.stop()
            proc = _start(home, port)  # empty
            t0 = time.perf_counter()
            await ensure_topics(bootstrap)
            lost = await relay.check_log()
            while await _relay_once_reconnecting(relay):
                pass
            recovery = time.perf_counter() - t0
        assert lost == rows, (lost, rows)
        return (f"{rows:>6} rows retained: check when intact median {statistics.median(checks) * 1000:.1f} ms "
                f"(max {max(checks) * 1000:.1f}); after a restart, {lost} rows found lost and sent again "
                f"in {recovery:.2f} s ({lost / recovery:.0f} rows/s)")
    finally:
        proc.stop()
        engine.dispose()


async def _relay_once_reconnecting(relay: outbox.OutboxRelay) -> int:
    for _ in range(40):
        try:
            return await relay.relay_once()
        except Exception:  # the producer reconnecting to the restarted broker
            await asyncio.sleep(0.25)
    return await relay.relay_once()


def _start(home: Path, port: int) -> Proc:
    proc = broker_proc(home, port)
    proc.start()
    proc.wait_healthy()
    return proc


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 20000]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            print(asyncio.run(measure(rows, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
