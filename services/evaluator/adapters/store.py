"""The evaluation's directory: $CHALLENGER_HOME/reports/evaluations/<evaluation_id>/.

- items.partial.jsonl: every scored answer (append-only, flushed every FLUSH_EVERY answers
  and at the end), a resume cache: a restarted evaluator resumes where it stopped instead of
  starting over; a crash loses at most the unflushed answers, which are simply asked again;
- results.jsonl: the final per-item results (also stored as a content-addressed blob);
- report.html and report.png: the human report;
- EvaluationCompleted.json (or EvaluationFailed.json): the reply, written by the service's
  handler last (shared.kit.replies). Whether a request was handled is the inbox's to say.
"""

from __future__ import annotations

import json
from pathlib import Path

from services.evaluator.domain.results import ItemResult, Key
from shared import blobs

FLUSH_EVERY = 32


def evaluation_dir(reports_dir: Path, evaluation_id: str) -> Path:
    return reports_dir / "evaluations" / "".join(c if c.isalnum() or c in "-_." else "_" for c in evaluation_id)


class EvaluationStore:
    def __init__(self, reports_dir: Path, evaluation_id: str, blob_root: Path | None = None) -> None:
        self.dir = evaluation_dir(reports_dir, evaluation_id)
        self.blob_root = blob_root
        self._partial = self.dir / "items.partial.jsonl"
        self._handle = None
        self._pending = 0

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

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
