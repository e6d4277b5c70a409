"""Fakes for the monitor's adapters (unit tests only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from schemas import Envelope
from services.monitor.domain.drift import DriftResult
from services.monitor.domain.features import Record
from services.monitor.domain.windows import Window, WindowKey


class MemoryStore:
    def __init__(self) -> None:
        self.references: dict[str, list[Record]] = {}  # by "route/candidate"
        self.windows: list[Window] = []
        self.journal_entries: list[dict[str, Any]] = []
        self.alarms: list[tuple[str, str, dict[str, Any]]] = []

    def load_reference(self, key: WindowKey) -> list[Record]:
        return list(self.references.get(key.slug(), []))

    def save_reference(self, key: WindowKey, records: Sequence[Record]) -> Path:
        self.references[key.slug()] = list(records)
        return Path("/dev/null")

    def log_window(self, window: Window) -> Path:
        self.windows.append(window)
        return Path("/dev/null")

    def journal(self, entries: Sequence[dict[str, Any]]) -> None:
        self.journal_entries += entries

    def rewrite_journal(self, entries: Iterable[dict[str, Any]]) -> None:
        self.journal_entries = list(entries)

    def journaled(self) -> list[dict[str, Any]]:
        return list(self.journal_entries)

    def save_alarms(self, states: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.alarms = list(states)

    def load_alarms(self) -> list[tuple[str, str, dict[str, Any]]]:
        return list(self.alarms)


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
