"""What the monitor keeps beside its windows: the reference window per (route, candidate), in its
database (adapters/journal.py), where every instance of the group reads it; and the log of
closed windows, files under $CHALLENGER_HOME/monitor/windows (from which an operator can pick
a reference period). What the open windows hold and the alarm counters are in the database too
(adapters/journal.SqlJournal)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from services.monitor.adapters import journal
from services.monitor.domain.features import Record
from services.monitor.domain.windows import Window, WindowKey


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def _write_jsonl(path: Path, records: Iterable[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r.as_dict()) + "\n" for r in records))
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[Record]:
    return [Record(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


class MonitorStore:
    def __init__(self, home: Path, engine: Engine) -> None:
        self.root = home / "monitor"
        self.engine = engine

    def reference_version(self, key: WindowKey) -> int:
        """Moves on every save of `key`'s reference (by any instance); 0 while there is none."""
        return journal.reference_version(self.engine, key.route, key.candidate_id)

    def load_reference(self, key: WindowKey) -> list[Record]:
        return self.versioned_reference(key)[1]

    def versioned_reference(self, key: WindowKey) -> tuple[int, list[Record]]:
        version, records = journal.load_reference(self.engine, key.route, key.candidate_id)
        return version, [Record(**r) for r in records]

    def save_reference(self, key: WindowKey, records: Sequence[Record]) -> int:
        """Store `records` as `key`'s reference; returns its new version."""
        return journal.save_reference(self.engine, key.route, key.candidate_id, [r.as_dict() for r in records])

    def log_window(self, window: Window) -> Path:
        folder = self.root / "windows" / safe(window.key.route) / safe(window.key.candidate_id)
        path = folder / f"{window.window_id}.jsonl"
        _write_jsonl(path, window.records)
        return path

    def logged_records(self, route: str, since: float, until: float) -> list[Record]:
        """Every logged record of `route` (any candidate) with since <= time < until."""
        found = [r for path in sorted((self.root / "windows" / safe(route)).glob("*/*.jsonl"))
                 for r in _read_jsonl(path)]
        return sorted((r for r in found if since <= r.at < until), key=lambda r: r.at)
