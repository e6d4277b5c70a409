"""The evaluation's directory: $CHALLENGER_HOME/reports/evaluations/<evaluation_id>/.

- items.partial.jsonl: every scored answer (append-only, flushed every FLUSH_EVERY answers
  and at the end), so a restarted evaluator resumes where it stopped instead of starting
  over; a crash loses at most the unflushed answers, which are simply asked again;
- results.jsonl: the final per-item results (also stored as a content-addressed blob);
- result.json: the published `evaluation.completed` payload, written last: its presence
  means "done", and a re-delivered request republishes it instead of re-running;
- report.html and report.png: the human report.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from schemas.events.evaluations import EvaluationCompleted
from services.evaluator.domain.results import ItemResult, Key
from shared import blobs

log = logging.getLogger(__name__)
FLUSH_EVERY = 32


class EvaluationStore:
    def __init__(self, reports_dir: Path, evaluation_id: str, blob_root: Path | None = None) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in evaluation_id)
        self.dir = reports_dir / "evaluations" / safe
        self.blob_root = blob_root
        self._partial = self.dir / "items.partial.jsonl"
        self._handle = None
        self._pending = 0

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

    @property
    def result_path(self) -> Path:
        return self.dir / "result.json"

    def completed(self) -> EvaluationCompleted | None:
        if not self.result_path.exists():
            return None
        try:
            return EvaluationCompleted.model_validate_json(self.result_path.read_text())
        except ValueError:
            log.warning("ignoring unreadable %s", self.result_path)
            return None

    def done(self) -> dict[Key, ItemResult]:
        """Answers an earlier attempt already got (a torn last line is skipped; failed calls are
        not kept, so they are asked again)."""
        if not self._partial.exists():
            return {}
        found: dict[Key, ItemResult] = {}
        for line in self._partial.read_text().splitlines():
            try:
                r = ItemResult.from_dict(json.loads(line))
            except (ValueError, TypeError):
                continue
            if r.error is None:
                found[r.key] = r
        return found

    def append(self, result: ItemResult) -> None:
        if self._handle is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._handle = self._partial.open("a")
        self._handle.write(json.dumps(result.to_dict()) + "\n")
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            self._handle.flush()
            self._pending = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write_results(self, results: list[ItemResult]) -> tuple[str, str]:
        """Write results.jsonl; return (uri, sha256) of its blob (or of the file itself)."""
        data = "".join(json.dumps(r.to_dict()) + "\n" for r in results).encode()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "results.jsonl").write_bytes(data)
        if self.blob_root is not None:
            return blobs.put(self.blob_root, data)
        return (self.dir / "results.jsonl").resolve().as_uri(), blobs.sha256(data)

    def save_completed(self, completed: EvaluationCompleted) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.result_path.with_suffix(".tmp")
        tmp.write_text(completed.model_dump_json(indent=2))
        os.replace(tmp, self.result_path)
