"""Fakes for the monitor's adapters (unit tests only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

from schemas import Envelope
from services.monitor.domain.drift import DriftResult
from services.monitor.domain.features import Record
from services.monitor.domain.windows import Window, WindowKey


class MemoryStore:
    def __init__(self) -> None:
        self.references: dict[str, list[Record]] = {}  # by "route/candidate"
        self.versions: dict[str, int] = {}
        self.judged: list[Window] = []

    def reference_version(self, key: WindowKey) -> int:
        return self.versions.get(key.slug(), 0)

    def load_reference(self, key: WindowKey) -> list[Record]:
        return list(self.references.get(key.slug(), []))

    def versioned_reference(self, key: WindowKey) -> tuple[int, list[Record]]:
        return self.reference_version(key), self.load_reference(key)

    def save_reference(self, key: WindowKey, records: Sequence[Record]) -> int:
        self.references[key.slug()] = list(records)
        self.versions[key.slug()] = self.reference_version(key) + 1
        return self.versions[key.slug()]

    def log_judged(self, window: Window) -> None:
        self.judged.append(window)


JournalRow = tuple[int, str, dict[str, Any]]
T = TypeVar("T")


class MemoryJournal:
    """The window journal (adapters/journal.SqlJournal) in memory: rows in order, the closed
    windows' log, alarm states."""

    def __init__(self) -> None:
        self.rows: list[JournalRow] = []
        self.windows: list[Window] = []
        self.alarms: dict[tuple[str, str], dict[str, Any]] = {}

    def write(self, rows: Sequence[JournalRow], *, clear_routes: Collection[str] = (),
              clear_partitions: Collection[int] = (), closed: Sequence[Window] = ()) -> None:
        self.rows = [r for r in self.rows if r[1] not in clear_routes and r[0] not in clear_partitions] + list(rows)
        self.windows += closed

    def entries(self, partitions: Collection[int] | None = None) -> list[JournalRow]:
        return [r for r in self.rows if partitions is None or r[0] in partitions]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [entry["record"] for _, _, entry in self.rows if "record" in entry]

    def alarm(self, route: str, candidate_id: str) -> dict[str, Any] | None:
        return self.alarms.get((route, candidate_id))

    def update_alarm(self, route: str, candidate_id: str,
                     change: Callable[[dict[str, Any] | None], tuple[dict[str, Any], T]]) -> T:
        state, result = change(self.alarm(route, candidate_id))
        self.alarms[(route, candidate_id)] = json.loads(json.dumps(state))  # as the database stores it
        return result


class Published(list[Envelope[Any]]):
    async def __call__(self, *envelopes: Envelope[Any]) -> None:
        self.extend(envelopes)

    def of_type(self, suffix: str) -> list[Envelope[Any]]:
        return [e for e in self if e.type.endswith(suffix)]


def no_drift(ref: Sequence[Record], cur: Sequence[Record], html: Path | None) -> DriftResult:
    return DriftResult(0.0, (), {})


def mean_shift_drift(ref: Sequence[Record], cur: Sequence[Record], html: Path | None) -> DriftResult:
    """A stand-in for Evidently: a column drifts when its mean moved by more than half."""
    cols = ("prompt_chars", "latency_ms", "response_chars", "refusal")
    mean = lambda rs, c: sum(r.features[c] for r in rs) / len(rs)  # noqa: E731
    drifted = tuple(c for c in cols if abs(mean(cur, c) - mean(ref, c)) > 0.5 * max(abs(mean(ref, c)), 0.1))
    return DriftResult(len(drifted) / len(cols), drifted, {c: 0.0 for c in drifted})
