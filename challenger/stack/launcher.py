"""`up`, `down` and `status` of the embedded stack.

Parts start in phases (broker; models and the registry; the other services), each phase
started together and then waited on, so slow model loads overlap with service start-up.
If any part fails, everything this call started is stopped again and the error names
the part. State lives in $CHALLENGER_HOME: stack.json, run/*.pid, logs/*.log.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from challenger.stack.broker import broker_proc
from challenger.stack.models import model_proc
from challenger.stack.parts import MODELS, available_services, duplicate_ports, port_env, ports
from challenger.stack.services import DEMO_AUTH_NOTE, demo_gateway_auth, service_proc, stack_env
from challenger.stack.state import PartStatus, clear_state, part_status, read_state, running_parts, write_state
from shared.bus.topics import ensure_topics
from shared.process import Proc, ProcessError, kill_group, pid_alive, port_open, stop_pid_files


@dataclass(frozen=True)
class StackConfig:
    home: Path
    ports: dict[str, int]
    database_url: str | None
    models: tuple[str, ...] = MODELS
    services: tuple[str, ...] = field(default_factory=lambda: tuple(available_services()))

    @classmethod
    def from_env(cls, home: Path, *, with_models: bool = True,
                 environ: Mapping[str, str] = os.environ) -> StackConfig:
        return cls(home=home, ports=ports(environ), database_url=environ.get("DATABASE_URL") or None,
                   models=MODELS if with_models else ())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    def used_ports(self) -> dict[str, int]:
        parts = ("broker", *self.models, *self.services)
        return {part: self.ports[part] for part in parts}

    def proc(self, name: str) -> Proc:
        """The part called `name` ("broker", "registry", "model-smollm2", ...), as `up` starts it."""
        procs = {proc.name: proc for phase in phases(self) for proc in phase}
        if name not in procs:
            raise ProcessError(f"no part {name!r} in this stack; parts: {', '.join(procs)}")
        return procs[name]


class Reporter(Protocol):
    def starting(self, proc: Proc) -> None: ...
    def ready(self, proc: Proc, seconds: float) -> None: ...
    def note(self, message: str) -> None: ...


class Quiet:
    def starting(self, proc: Proc) -> None: ...
    def ready(self, proc: Proc, seconds: float) -> None: ...
    def note(self, message: str) -> None: ...


def phases(cfg: StackConfig) -> list[list[Proc]]:
    env = stack_env(cfg.home, cfg.ports, cfg.database_url)
    models = [model_proc(alias, cfg.home, cfg.ports[alias]) for alias in cfg.models]
    services = [service_proc(name, cfg.home, cfg.ports[name], env) for name in cfg.services]
    first = [s for s in services if s.name == "registry"]
    return [[broker_proc(cfg.home, cfg.ports["broker"])], models + first,
            [s for s in services if s.name != "registry"]]


def preflight(cfg: StackConfig) -> None:
    """Refuse before starting anything: a stack already running here, or a port taken."""
    if running := running_parts(cfg.home):
        raise ProcessError(f"a stack is already running from {cfg.home} ({', '.join(running)}); "
                         "run `challenger down` first")
    problems = duplicate_ports(cfg.used_ports())
    problems += [f"{part}: port {port} is already taken (set {port_env(part)} to move it)"
                 for part, port in cfg.used_ports().items() if port_open("127.0.0.1", port)]
    if problems:
        raise ProcessError("cannot start the stack: " + "; ".join(problems))


def up(cfg: StackConfig, reporter: Reporter | None = None) -> dict[str, Any]:
    """Start every part and wait until each is healthy; returns the state written to stack.json."""
    reporter = reporter or Quiet()
    preflight(cfg)
    if "gateway" in cfg.services and demo_gateway_auth():
        reporter.note(DEMO_AUTH_NOTE)
    started: list[Proc] = []
    try:
        for phase in phases(cfg):
            _start_phase(phase, started, reporter)
            if phase[0].name == "broker":
                created = asyncio.run(ensure_topics(cfg.bootstrap))
                reporter.note(f"topics ready ({len(created)} created)")
            write_state(cfg.home, _state(cfg, started))
    except BaseException:
        stop_pid_files([proc.pid_path for proc in reversed(started)])
        clear_state(cfg.home)
        raise
    return _state(cfg, started)


def _start_phase(phase: list[Proc], started: list[Proc], reporter: Reporter) -> None:
    t0 = time.monotonic()
    for proc in phase:
        reporter.starting(proc)
        proc.start()
        started.append(proc)
    for proc in phase:
        proc.wait_healthy()
        reporter.ready(proc, time.monotonic() - t0)


def _state(cfg: StackConfig, procs: list[Proc]) -> dict[str, Any]:
    return {"home": str(cfg.home), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "bootstrap": cfg.bootstrap,
            "database_url": cfg.database_url or f"sqlite:///{cfg.home}/<service>.db (one file per service)",
            "parts": [p.record() for p in procs]}


def down(home: Path) -> list[str]:
    """Stop every part (process groups, newest first) and any stray pid file; returns what ran."""
    state = read_state(home) or {}
    pid_files = [Path(p["pid_file"]) for p in reversed(state.get("parts", []))]
    pid_files += [p for p in sorted((home / "run").glob("*.pid")) if p not in pid_files]
    stopped = [p.stem for p in stop_pid_files(pid_files)]
    clear_state(home)
    return stopped


def kill(home: Path, name: str) -> int:
    """SIGKILL one running part's process group, as a crash would; returns the pid it had."""
    record = _record(home, name)
    pid = int(record.get("pid") or 0)
    if not pid or not pid_alive(pid):
        raise ProcessError(f"{name} is not running (pid {pid or '-'})")
    kill_group(pid)
    return pid


def restart(cfg: StackConfig, name: str, reporter: Reporter | None = None) -> dict[str, Any]:
    """Start one part again with the command and env `up` gives it (stopping it first if it
    still runs) and wait until it is healthy; stack.json then names its new pid."""
    reporter = reporter or Quiet()
    state = read_state(cfg.home)
    _record(cfg.home, name, state)
    assert state is not None
    running = {p["name"] for p in state["parts"]}  # only the models this stack has (no weights to find)
    proc = replace(cfg, models=tuple(m for m in cfg.models if f"model-{m}" in running)).proc(name)
    stop_pid_files([proc.pid_path])
    _start_phase([proc], [], reporter)
    if name == "broker":  # the embedded broker keeps nothing: its topics come back empty
        created = asyncio.run(ensure_topics(cfg.bootstrap))
        reporter.note(f"topics ready ({len(created)} created)")
    fresh = read_state(cfg.home) or state  # another restart may have written meanwhile
    fresh["parts"] = [proc.record() if p["name"] == name else p for p in fresh["parts"]]
    write_state(cfg.home, fresh)
    return fresh


def _record(home: Path, name: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    state = state if state is not None else read_state(home)
    if state is None:
        raise ProcessError(f"no stack is running from {home}; start it with `challenger up`")
    for record in state.get("parts", []):
        if record["name"] == name:
            return dict(record)
    names = ", ".join(p["name"] for p in state.get("parts", []))
    raise ProcessError(f"no part {name!r} in the stack running from {home}; parts: {names}")


def status(home: Path) -> list[PartStatus]:
    state = read_state(home) or {}
    return [part_status(record) for record in state.get("parts", [])]
