"""What the monitor keeps beside its windows, in its database (adapters/journal.py), where every
instance of the group reads it: the reference window per (route, candidate), and the log of
closed windows (from which an operator picks a reference period with `challenger monitor
reference`), which the journal writes as the windows close. What the open windows hold and the
alarm counters are there too (adapters/journal.SqlJournal)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from services.monitor.adapters import journal
from services.monitor.domain.features import Record
from services.monitor.domain.windows import Window, WindowKey


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


class MonitorStore:
    def __init__(self, engine: Engine) -> None:
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

    def log_judged(self, window: Window) -> None:
        """The logged `window` (logged as it closed) gets its records with the judge's scores."""
        journal.relog_window(self.engine, window)

    def logged_windows(self, route: str) -> list[list[Record]]:
        """The records of each logged window of `route` (any candidate, any instance), oldest first."""
        return [[Record(**r) for r in records] for records in journal.logged_windows(self.engine, route)]

    def logged_records(self, route: str, since: float, until: float) -> list[Record]:
        """Every logged record of `route` (any candidate, any instance) with since <= time < until."""
        found = [Record(**r) for records in journal.logged_windows(self.engine, route, since, until) for r in records]
        return sorted((r for r in found if since <= r.at < until), key=lambda r: r.at)
