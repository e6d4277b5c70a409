"""$CHALLENGER_HOME/stack.json: every running part's pid, port, URL, health URL and log."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.process import pid_alive, probe


def state_path(home: Path) -> Path:
    return home / "stack.json"


def read_state(home: Path) -> dict[str, Any] | None:
    path = state_path(home)
    if not path.exists():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None  # a torn write: treat as no stack; pid files still let `down` clean up


def write_state(home: Path, state: dict[str, Any]) -> None:
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


def clear_state(home: Path) -> None:
    state_path(home).unlink(missing_ok=True)


@dataclass(frozen=True)
class PartStatus:
    name: str
    pid: int | None
    port: int
    url: str | None
    alive: bool
    healthy: bool
    log: str

    @property
    def health(self) -> str:
        if not self.alive:
            return "stopped"
        return "healthy" if self.healthy else "not answering"


def part_status(record: dict[str, Any]) -> PartStatus:
    pid = record.get("pid")
    alive = bool(pid) and pid_alive(int(pid))
    # A llama.cpp server busy generating answers its health URL late: allow it a few seconds.
    healthy = alive and probe(int(record["port"]), record.get("health_url"), timeout=5.0)
    return PartStatus(name=record["name"], pid=pid, port=int(record["port"]), url=record.get("url"),
                      alive=alive, healthy=healthy, log=record.get("log", ""))


def running_parts(home: Path) -> list[str]:
    state = read_state(home) or {}
    return [p["name"] for p in state.get("parts", []) if p.get("pid") and pid_alive(int(p["pid"]))]
