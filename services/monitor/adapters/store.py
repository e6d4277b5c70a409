"""Files under $CHALLENGER_HOME/monitor/: reference windows per (route, candidate), the log of closed
windows (from which an operator can pick a reference period), and the journal of what the
open windows hold (so a monitor killed mid-window rebuilds them instead of losing them: their
events' offsets are already committed), and the alarm counters (so a restart neither forgets
breaches under way nor fires again inside a cool-down)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
    def __init__(self, home: Path) -> None:
        self.root = home / "monitor"

    def reference_path(self, key: WindowKey) -> Path:
        return self.root / "reference" / safe(key.route) / f"{safe(key.candidate_id)}.jsonl"

    def load_reference(self, key: WindowKey) -> list[Record]:
        path = self.reference_path(key)
        return _read_jsonl(path) if path.exists() else []

    def save_reference(self, key: WindowKey, records: Sequence[Record]) -> Path:
        path = self.reference_path(key)
        _write_jsonl(path, records)
        return path

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


    @property
    def journal_path(self) -> Path:
        return self.root / "open-windows.jsonl"

    def journal(self, entries: Sequence[dict[str, Any]]) -> None:
        """Append ingested records ({"record": ...}) and late features ({"feature": ...}), one
        write per consumed batch; written through to the OS before the batch's offsets are
        committed, so a SIGKILL loses nothing."""
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        with self.journal_path.open("a") as out:
            out.write("".join(json.dumps(e) + "\n" for e in entries))

    def rewrite_journal(self, entries: Iterable[dict[str, Any]]) -> None:
        """After windows closed: the journal keeps only what is still open."""
        path = self.journal_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
        tmp.replace(path)

    def journaled(self) -> list[dict[str, Any]]:
        """The journal's entries; a line torn by a crash is skipped."""
        if not self.journal_path.exists():
            return []
        out = []
        for line in self.journal_path.read_text().splitlines():
            try:
                out.append(dict(json.loads(line)))
            except (ValueError, TypeError):
                continue
        return out

    @property
    def alarms_path(self) -> Path:
        return self.root / "alarms.json"

    def save_alarms(self, states: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Each (route, candidate) window stream's alarm counters: recent breaches, cool-down."""
        self.alarms_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.alarms_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(states))
        tmp.replace(self.alarms_path)

    def load_alarms(self) -> list[tuple[str, str, dict[str, Any]]]:
        if not self.alarms_path.exists():
            return []
        try:
            saved = json.loads(self.alarms_path.read_text())
            return [(str(route), str(cid), dict(state)) for route, cid, state in saved]
        except (ValueError, TypeError):
            return []
