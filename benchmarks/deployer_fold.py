"""How many logged inferences per second the deployer's handlers take, on the path its
consumer runs, without the broker: the subscribing group's batch handler on batches of
`--batch` events where it has one (as the consumer calls it per fetched batch), else the
kit's per-event `_handle` (inbox check where the event has a key, the handler, its
transaction). Events on a route with an active canary (half per arm), events on a route
without one, and feedback on the canary's requests; then one tick.

The same script measures any version of the deployer (it uses only bootstrap, the store's
open_database, the driver and the tick), so a before/after is two runs with another
PYTHONPATH:

  python -m benchmarks.deployer_fold [--events 3000] [--batch 500] [--db sqlite,postgresql]
  PYTHONPATH=/path/to/older/checkout python /path/to/benchmarks/deployer_fold.py ...

PostgreSQL: a fresh database on CHALLENGER_TEST_PG (default postgres@127.0.0.1:5432/test),
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import Session

from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.inference import FeedbackReceived, InferenceLogged
from schemas.events.models import ModelApproved, ModelSubmitted
from schemas.task import DatasetRef, TaskSpec
from services.deployer.adapters import store
from services.deployer.bootstrap import Adapters, bootstrap
from services.deployer.config import DeployerSettings
from services.deployer.domain import driver
from services.deployer.domain.run import Phase
from shared.kit.service import _consumer  # the kit's wiring of the deployer's Consumes, inbox included

PG_ADMIN = os.environ.get("CHALLENGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TASK = "bench"


@contextlib.contextmanager
def database(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'deployer.db'}"
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _spec(name: str) -> CandidateSpec:
    return CandidateSpec(name=name, model=name, task=TASK, engine="llamacpp", endpoint="http://127.0.0.1:1/v1")


def _canary_run(env: driver.Env) -> Any:
    ref = DatasetRef(dataset_id="d", name="golden", uri="file:///tmp/g.jsonl", sha256="0" * 64, items=1)
    sub = ModelSubmitted(candidate_id="cand", spec=_spec("cand"), submitted_by="bench",
                         task_spec=TaskSpec(name=TASK, datasets=[ref]), champion_id="champ",
                         champion_spec=_spec("champ"))
    run = driver.on_submitted(sub, "corr").run.model_copy(update={"phase": Phase.awaiting_approval,
                                                                  "expected": "awaiting_approval"})
    return driver.on_approved(run, ModelApproved(candidate_id="cand", approver="bench"), env).run


def _logged(n: int, route: str, tag: str) -> list[Envelope[Any]]:
    return [new_event(InferenceLogged(request_id=f"{tag}-{i}", route=route, candidate_id=("cand", "champ")[i % 2],
                                      prompt="p", response="r", status="ok", latency_ms=300.0 + i % 50),
                      source="bench") for i in range(n)]


async def _rate(service: Any, events: list[Envelope[Any]], batch: int) -> float:
    [consumes] = [c for c in service.consumes() if events[0].type in c.types]
    started = time.perf_counter()
    if consumes.batch is not None:
        for i in range(0, len(events), batch):
            await consumes.batch(events[i:i + batch])
    else:
        handle = _consumer(service, consumes)._handle  # noqa: SLF001
        for e in events:
            error = await handle(e)
            assert error is None, error
    return len(events) / (time.perf_counter() - started)


async def measure(kind: str, n: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        engine = store.open_database(url)
        service = bootstrap(DeployerSettings(home=Path(tmp)), Adapters(engine=engine))
        deployer = service.deployer
        with Session(engine) as s:
            store.put_run(s, _canary_run(deployer.env))
            s.commit()
        deployer.tick()  # watches the canary's route (every version does so on its tick)
        canary = _logged(n, TASK, "c")
        feedback = [new_event(FeedbackReceived(request_id=e.data.request_id, route=TASK, score=-1.0), source="bench")
                    for e in canary[: n // 3]]
        out = {"canary": await _rate(service, canary, batch),
               "other route": await _rate(service, _logged(n, "elsewhere", "o"), batch),
               "feedback": await _rate(service, feedback, batch)}
        started = time.perf_counter()
        deployer.tick()
        out["tick ms"] = (time.perf_counter() - started) * 1000
        engine.dispose()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=500, help="events per batch handler call (where there is one)")
    ap.add_argument("--db", default="sqlite,postgresql")
    args = ap.parse_args()
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}; {args.events} events, batch {args.batch}")
    for kind in args.db.split(","):
        got = asyncio.run(measure(kind, args.events, args.batch))
        print(f"{kind:10s} " + "  ".join(f"{k}: {v:,.0f}{'' if k.endswith('ms') else ' ev/s'}"
                                         for k, v in got.items()))


if __name__ == "__main__":
    main()
