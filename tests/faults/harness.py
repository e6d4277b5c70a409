"""Fault drills on the real embedded stack: start it on free ports in a temp CHALLENGER_HOME,
SIGKILL one part and start it again (`challenger kill` / `challenger restart`), record every
event on the broker, and drive a small, fast iteration against a local sentiment model.

API (kept stable for the other fault tests):
- `running_stack(home, extra_env)` -> `Stack` (context manager; `challenger down` at the end);
  `Stack.kill(part)`, `Stack.restart(part)`, `Stack.crash(part)` (= kill + restart),
  `Stack.pid(part)`, `Stack.api()` (registry client with the admin token), `Stack.cli(...)`.
- `EventLog(bootstrap)`: a background reader of every topic from the beginning;
  `.wait(match, timeout_s)`, `.all(match)`, `.of_type(cls, match)`. It survives a broker restart.
- `IterationDriver(stack, log, model)`: import the champion, submit the challenger, wait for
  stages, approve, run synthetic traffic, and the end-of-iteration checks (`problems()`);
  `champion_serving(home, model)` starts all three with the champion serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer

from challenger.stack import launcher
from challenger.stack.parts import DEFAULT_PORTS, port_env
from schemas import DLQ_TOPIC, TOPIC_NAMES, Envelope, EventData, new_event
from schemas.candidate import CandidateSpec, Decoding, GpuCost
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from schemas.events.inference import TOPIC as INFERENCE_TOPIC
from schemas.events.models import ModelStageChanged, ModelSubmitted, StageChangeRejected
from services.cli.iteration import Traffic
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.process import free_port, tail
from tests.faults.sentiment_model import SentimentModel

CLI = [sys.executable, "-m", "services.cli.main"]
TASK = "sentiment"
SERVICES = ("registry", "evaluator", "loadtester", "prompt_optimizer", "deployer", "monitor", "gateway")

# Small enough for two CPU cores; the sentiment model answers at once, so the services'
# own work (and their restarts) is what takes the time.
FAULT_POLICY: dict[str, Any] = {
    "defaults": {
        "workload": {"eval_max_items": 24, "eval_concurrency": 2, "stability_repeats": 2,
                     "loadtest_levels": [1], "loadtest_requests_per_level": 6,
                     "loadtest_input_tokens": 16, "loadtest_output_tokens": 4},
        "cost": {"max_delta_usd_per_1m_tokens": None, "max_delta_pct": None},
        "latency": {"p95_ttft_ms": 20000, "p95_e2e_ms": 60000},
        # 24 items cannot resolve a 0.2 margin (MDE ~0.3): these drills test faults, not accuracy
        "accuracy": {"min_items": 10, "non_inferiority_margin": 0.2, "underpowered": "warn"},
        "optimization": {"strategy": "fewshot", "optimizer": "none", "max_eval_calls": 200, "max_seconds": 240},
        "security": {"max_attack_success_rate": 1.0},
        "stability": {"min_agreement": 0.5},
        "staging": {"max_attack_success_rate": 1.0},
        "canary": {"steps": [50, 100], "min_samples": 10, "min_samples_per_step": 10, "latency_slo_ms": 20000},
    },
}
FAULT_MONITOR: dict[str, Any] = {"routes": [TASK], "window_size": 20, "reference_size": 40, "max_samples": 10}


def fault_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment: every part on a free port, the small policy, fast canary ticks."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("CHALLENGER_")}
    env |= {port_env(part): str(free_port()) for part in DEFAULT_PORTS}
    policy, monitor = home / "faults" / "policy.yaml", home / "monitor" / "config.yaml"
    for path, body in ((policy, FAULT_POLICY), (monitor, FAULT_MONITOR)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(body, sort_keys=False))
    return env | {"CHALLENGER_HOME": str(home), "COLUMNS": "200", "CHALLENGER_DEPLOYER_POLICY": str(policy),
                  "CHALLENGER_MONITOR_CONFIG": str(monitor), "CHALLENGER_DEPLOYER_TICK_S": "1"} | (extra or {})


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    token: str = ""
    kills: list[tuple[str, int]] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = self.env | {"CHALLENGER_REGISTRY_URL": self.registry_url}  # for the commands that call the registry
        return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def port(self, part: str) -> int:
        return int(self.env[port_env(part)])

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port('broker')}"

    @property
    def registry_url(self) -> str:
        return f"http://127.0.0.1:{self.port('registry')}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port('gateway')}"

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "stack.json").read_text()))

    def pid(self, part: str) -> int:
        [record] = [p for p in self.state()["parts"] if p["name"] == part]
        return int(record["pid"])

    def log(self, part: str, lines: int = 40) -> str:
        return tail(self.home / "logs" / f"{part}.log", lines)

    def kill(self, part: str) -> int:
        """SIGKILL the part's whole process group, the way the kernel's OOM killer would."""
        pid = launcher.kill(self.home, part)
        self.kills.append((part, pid))
        return pid

    def restart(self, part: str) -> int:
        """`challenger restart <part>`: same command, same env; returns the new pid once healthy."""
        done = self.cli("restart", part)
        assert done.returncode == 0, f"restart {part} failed:\n{done.stdout}{done.stderr}\n{self.log(part)}"
        return self.pid(part)

    def crash(self, part: str) -> int:
        old = self.kill(part)
        new = self.restart(part)
        assert new != old
        return new

    def api(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.registry_url, headers={"Authorization": f"Bearer {self.token}"},
                            timeout=timeout)

    def get(self, path: str, **params: Any) -> Any:
        """GET from the registry API, riding out a registry that is restarting."""
        deadline = time.monotonic() + 120
        while True:
            try:
                with self.api() as api:
                    response = api.get(path, params=params)
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"registry GET {path} kept failing; log:\n{self.log('registry')}")
            time.sleep(0.5)

    def doctor(self, settle_s: float = 60) -> dict[str, Any]:
        """`challenger doctor --json`: the registry against the gateway. A move the deployer asked
        for lands a moment after the route changed, so a mismatch is asked again until `settle_s`."""
        deadline = time.monotonic() + settle_s
        while True:
            done = self.cli("doctor", "--json", timeout=60)
            assert done.returncode in (0, 1), f"doctor failed ({done.returncode}): {done.stdout}{done.stderr}"
            report: dict[str, Any] = json.loads(done.stdout)
            if report["ok"] or time.monotonic() > deadline:
                return report
            time.sleep(1)

    def mismatches(self) -> list[str]:
        """What `challenger doctor` finds wrong (empty: the record matches what the gateway serves)."""
        return [f"doctor: {p['message']}" for p in self.doctor()["problems"]]

    def healthy(self) -> dict[str, bool]:
        out = {}
        for part in SERVICES:
            try:
                out[part] = httpx.get(f"http://127.0.0.1:{self.port(part)}/health", timeout=10).status_code == 200
            except httpx.HTTPError:
                out[part] = False
        return out


@contextlib.contextmanager
def running_stack(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """`challenger up --no-models` in `home`; `challenger down` afterwards, whatever happened."""
    stack = Stack(home, fault_env(home, extra_env))
    try:
        up = stack.cli("up", "--no-models", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        stack.token = (home / "admin-token").read_text().strip()
        yield stack
    finally:
        stack.cli("down", timeout=120)


# ---- every event on the broker ----------------------------------------------------------

Match = Callable[[Envelope[Any]], bool]


class EventLog:
    """Reads every catalogue topic (but the high-volume inference log, unless asked) from the
    beginning in a background thread, keeping the decoded events in arrival order."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topics = topics or tuple(t for t in TOPIC_NAMES if t not in (INFERENCE_TOPIC, DLQ_TOPIC))
        self.events: list[Envelope[Any]] = []
        self.dead_letters: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="event-log")

    def __enter__(self) -> EventLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    async def _run(self) -> None:
        while not self._stop.is_set():
            consumer = AIOKafkaConsumer(*self.topics, DLQ_TOPIC, bootstrap_servers=self.bootstrap,
                                        auto_offset_reset="earliest", enable_auto_commit=False,
                                        metadata_max_age_ms=2000)
            try:
                await consumer.start()
                while not self._stop.is_set():
                    for records in (await consumer.getmany(timeout_ms=200)).values():
                        self._keep(records)
            except Exception:  # the broker restarts: read again (offsets start over with it)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def _keep(self, records: list[Any]) -> None:
        for r in records:
            if r.topic == DLQ_TOPIC:
                headers = {k: v.decode(errors="replace") for k, v in r.headers or ()}
                with self._lock:
                    self.dead_letters.append(headers)
                continue
            try:
                envelope = decode(r.key, r.value, r.headers or ())
            except PoisonMessage:
                continue
            with self._lock:
                self.events.append(envelope)

    def all(self, match: Match = lambda _e: True) -> list[Envelope[Any]]:
        with self._lock:
            return [e for e in self.events if match(e)]

    def of_type(self, cls: type[EventData], match: Callable[[Any], bool] = lambda _d: True) -> list[Envelope[Any]]:
        return self.all(lambda e: e.type == cls.event_type and match(e.data))

    def wait(self, match: Match, timeout_s: float = 180, what: str = "event") -> Envelope[Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found := self.all(match):
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout_s:.0f}s")

    def wait_for(self, cls: type[EventData], match: Callable[[Any], bool] = lambda _d: True,
                 timeout_s: float = 180) -> Any:
        """The data of the first `cls` event whose data `match` accepts."""
        return self.wait(lambda e: e.type == cls.event_type and match(e.data), timeout_s, cls.event_type).data


async def publish(bootstrap: str, *envelopes: Envelope[Any]) -> None:
    async with EventProducer(bootstrap, client_id="challenger-faults") as producer:
        for envelope in envelopes:
            await producer.publish(envelope)


# ---- a small iteration ------------------------------------------------------------------

def specs(model_url: str) -> tuple[CandidateSpec, CandidateSpec]:
    decoding = Decoding(temperature=0.0, max_tokens=4, seed=7)
    cost = GpuCost(gpu_hourly_usd=0.35)
    champion = CandidateSpec(name="faults-champion", model="instruct", version="1", task=TASK, engine="openai",
                             endpoint=model_url, decoding=decoding, cost=cost)
    challenger = CandidateSpec(name="faults-challenger", model="base", version="1", task=TASK, engine="openai",
                               endpoint=model_url, decoding=decoding, cost=cost)
    return champion, challenger


@dataclass
class IterationDriver:
    stack: Stack
    events: EventLog
    model: SentimentModel
    champion_id: str = ""
    challenger_id: str = ""
    traffic: Traffic | None = None

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        with self.stack.api() as api:
            response = api.post(path, json=body, headers=headers or {})
        assert not response.is_error, f"POST {path}: {response.status_code} {response.text[:400]}"
        return response.json()

    def import_champion(self) -> str:
        champion, _ = specs(self.model.url)
        self.champion_id = self._post("/api/v1/candidates/import-champion", _body(champion))["id"]
        target = RouteTarget(candidate_id=self.champion_id, url=str(champion.endpoint).rstrip("/"),
                             model=champion.model)
        table = RouteTable(route=TASK, targets=[target], sticky_key="x-user-id")
        update = RouteUpdated(route=TASK, table=table, revision=int(time.time() * 1000))
        asyncio.run(publish(self.stack.bootstrap, new_event(update, source="challenger/faults", subject=TASK)))
        return self.champion_id

    def submit_challenger(self) -> str:
        _, challenger = specs(self.model.url)
        self.challenger_id = self._post("/api/v1/candidates", _body(challenger))["id"]
        return self.challenger_id

    def derived_id(self, timeout_s: float = 300) -> str:
        """The candidate the prompt optimizer derived from the challenger."""
        return self.events.wait_for(ModelSubmitted, lambda d: d.spec.parent_id == self.challenger_id,
                                    timeout_s).candidate_id

    def wait_stage(self, candidate_id: str, stage: str, timeout_s: float = 300) -> None:
        def reached(d: ModelStageChanged) -> bool:
            return d.candidate_id == candidate_id and d.to_stage in (stage, "rejected", "rolled_back", "retired")

        moved = self.events.wait_for(ModelStageChanged, reached, timeout_s)
        assert moved.to_stage == stage, f"{candidate_id} went to {moved.to_stage}, not {stage}: {moved.reason}"

    def approve(self, candidate_id: str) -> None:
        token = self._post("/api/v1/tokens", {"name": f"approver-{candidate_id[-6:]}", "role": "approver"})
        self._post(f"/api/v1/candidates/{candidate_id}/approve", {"comment": "fault drill"},
                   headers={"Authorization": f"Bearer {token['token']}"})

    def start_traffic(self, concurrency: int = 2) -> Traffic:
        self.traffic = Traffic(self.stack.gateway_url, concurrency).start()
        return self.traffic

    def stop_traffic(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()

    # ---- what "nothing duplicated, nothing lost" means ------------------------------------

    def scorecard(self, candidate_id: str) -> dict[str, Any]:
        return dict(self.stack.get(f"/api/v1/candidates/{candidate_id}/scorecard"))

    def duplicates(self) -> list[str]:
        """Everything the registry's read models hold twice: a result per (kind, run id), a stage
        a candidate entered twice, a second derived candidate of one optimization run."""
        return registry_duplicates(self.stack.home / "registry.db")

    def problems(self) -> list[str]:
        """What "nothing duplicated, nothing lost" rules out, as readable lines (empty: none):
        a duplicate in the registry, a stage move refused (asked twice or out of order), one
        stage change published under two event ids, a dead letter, a service not healthy, and
        anything `challenger doctor` finds (the record disagreeing with what the gateway serves)."""
        found = self.duplicates()
        found += [f"stage move refused: {e.data.candidate_id} -> {e.data.to_stage}: {e.data.reason}"
                  for e in self.events.of_type(StageChangeRejected)]
        moves: dict[tuple[str, str, str], set[str]] = {}
        for e in self.events.of_type(ModelStageChanged):
            moves.setdefault((e.data.candidate_id, e.data.from_stage, e.data.to_stage), set()).add(e.id)
        found += [f"{cid} {was} -> {stage} published as {len(ids)} events"
                  for (cid, was, stage), ids in moves.items() if len(ids) > 1]
        found += [f"dead letter from {d.get('dlq_topic')}: {d.get('dlq_reason')}" for d in self.events.dead_letters]
        found += [f"{part} is not healthy" for part, ok in self.stack.healthy().items() if not ok]
        return found + self.stack.mismatches()


def registry_duplicates(db: Path) -> list[str]:
    queries = {
        "result": "SELECT kind || ' ' || run_id, COUNT(*) FROM result_record WHERE run_id IS NOT NULL "
                  "GROUP BY kind, run_id HAVING COUNT(*) > 1",
        # one entry per MOVE: a champion may come back (production -> standby -> production); a
        # row that stays in its stage is a note (an approval voided), not a stage entered
        "stage": "SELECT candidate_id || ' ' || COALESCE(from_stage, '-') || ' -> ' || to_stage, COUNT(*) "
                 "FROM stage_history WHERE from_stage IS NULL OR from_stage != to_stage "
                 "GROUP BY candidate_id, from_stage, to_stage HAVING COUNT(*) > 1",
        "derived candidate": "SELECT parent_id, COUNT(*) FROM candidate WHERE parent_id IS NOT NULL "
                             "GROUP BY parent_id HAVING COUNT(*) > 1",
    }
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return [f"{what} {key} recorded {n} times" for what, sql in queries.items()
                for key, n in conn.execute(sql).fetchall()]


@contextlib.contextmanager
def champion_serving(home: Path, model: SentimentModel,
                     extra_env: dict[str, str] | None = None) -> Iterator[IterationDriver]:
    """The usual start of a drill: the stack up, every event recorded, the champion imported
    and serving its route; the driver holds the stack (`.stack`) and the log (`.events`)."""
    with running_stack(home, extra_env) as stack, EventLog(stack.bootstrap) as log:
        it = IterationDriver(stack, log, model)
        it.import_champion()
        yield it


def _body(spec: CandidateSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)
