"""The run store: each accepted request is written before its offset is committed, and each
finished run's outcome beside it. A redelivered request re-publishes the stored outcome
(idempotency by deterministic run id); requests without an outcome are resumed at startup.
A failed run's outcome is stored too: retrying means a new run id. An outcome is marked once
published; one stored but never marked (the service died between the two) is published again
at startup, since its request's offset was committed long before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.envelope import Envelope, EventData


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class RunStore:
    root: Path  # e.g. $CHALLENGER_HOME/reports/prompts
    request: type[EventData]
    outcomes: tuple[type[EventData], ...]

    def run_dir(self, run_id: str) -> Path:
        return self.root / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:120]

    def load(self, run_id: str) -> EventData | None:
        for cls in self.outcomes:
            path = self.run_dir(run_id) / f"{cls.__name__}.json"
            if path.exists():
                return cls.model_validate_json(path.read_text())
        return None

    def save(self, outcome: EventData) -> Path:
        run_id = outcome.run_id  # type: ignore[attr-defined]
        return _write(self.run_dir(run_id) / f"{type(outcome).__name__}.json", outcome.model_dump_json(indent=2))

    def mark_published(self, run_id: str) -> Path:
        return _write(self.run_dir(run_id) / "published", "")

    def unpublished(self) -> list[tuple[EventData, Envelope[Any]]]:
        """Finished runs whose outcome may never have reached the broker, with their request."""
        found = []
        for path in sorted(self.root.glob("*/request.json")):
            outcome = self.load(path.parent.name)
            if outcome is not None and not (path.parent / "published").exists():
                found.append((outcome, Envelope[self.request].model_validate_json(path.read_text())))  # type: ignore[name-defined]
        return found

    def save_request(self, env: Envelope[Any]) -> Path:
        return _write(self.run_dir(env.data.run_id) / "request.json", env.model_dump_json(indent=2))

    def pending(self) -> list[Envelope[Any]]:
        """Accepted requests whose run never finished (the service stopped midway)."""
        found = []
        for path in sorted(self.root.glob("*/request.json")):
            if self.load(path.parent.name) is None:
                found.append(Envelope[self.request].model_validate_json(path.read_text()))  # type: ignore[name-defined]
        return found
