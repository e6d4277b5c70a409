"""The run store, $CHALLENGER_HOME/reports/{prompts,configs}/<run_id>/. Whether a request was
handled is the inbox's to say (keyed by run id); these files are what a run needs across a crash:

- request.json: the accepted request, written before its offset is committed: the durable queue
  of runs to do. A request without an outcome is resumed at startup (same seed);
- <Outcome>.json: the run's reply (shared.kit.replies), a cache: a repeated request, or one
  redelivered after a crash, is answered with it and the run is not repeated. A failed run's
  outcome is stored too: retrying means a new run id;
- published: the reply reached the broker. An outcome stored but never marked (the service died
  between the two) is published at startup, since its request's offset was committed long before.

Every file is written atomically (temp file, then rename): each decides what a restart does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.envelope import Envelope, EventData
from shared.kit.replies import save_reply, stored_reply, write_atomically


@dataclass(frozen=True)
class RunStore:
    root: Path  # e.g. $CHALLENGER_HOME/reports/prompts
    request: type[EventData]
    outcomes: tuple[type[EventData], ...]

    def run_dir(self, run_id: str) -> Path:
        return self.root / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:120]

    def load(self, run_id: str) -> EventData | None:
        return stored_reply(self.run_dir(run_id), self.outcomes)

    def save(self, outcome: EventData) -> Path:
        return save_reply(self.run_dir(outcome.run_id), outcome)  # type: ignore[attr-defined]

    def mark_published(self, run_id: str) -> Path:
        return write_atomically(self.run_dir(run_id) / "published", "")

    def unpublished(self) -> list[tuple[EventData, Envelope[Any]]]:
        """Finished runs whose outcome may never have reached the broker, with their request."""
        found = []
        for path in sorted(self.root.glob("*/request.json")):
            outcome = self.load(path.parent.name)
            if outcome is not None and not (path.parent / "published").exists():
                found.append((outcome, Envelope[self.request].model_validate_json(path.read_text())))  # type: ignore[name-defined]
        return found

    def save_request(self, env: Envelope[Any]) -> Path:
        return write_atomically(self.run_dir(env.data.run_id) / "request.json", env.model_dump_json(indent=2))

    def pending(self) -> list[Envelope[Any]]:
        """Accepted requests whose run never finished (the service stopped midway)."""
        found = []
        for path in sorted(self.root.glob("*/request.json")):
            if self.load(path.parent.name) is None:
                found.append(Envelope[self.request].model_validate_json(path.read_text()))  # type: ignore[name-defined]
        return found
