"""The run store: each accepted request is written before its offset is committed, and each
finished run's result beside it. A redelivered request re-publishes the stored result
(idempotency by deterministic run id); requests without an outcome are resumed at startup.
A failed run's outcome is stored too: retrying means a new run id."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from schemas.envelope import Envelope
from schemas.events.prompts import PromptOptimizationFailed, PromptOptimizationRequested, PromptOptimized

RequestEnvelope = Envelope[PromptOptimizationRequested]
Outcome = PromptOptimized | PromptOptimizationFailed


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:120]


def run_dir(reports_dir: Path, run_id: str) -> Path:
    return reports_dir / "prompts" / _safe(run_id)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def load_result(reports_dir: Path, run_id: str) -> Outcome | None:
    base = run_dir(reports_dir, run_id)
    for name, cls in (("result.json", PromptOptimized), ("failed.json", PromptOptimizationFailed)):
        if (base / name).exists():
            return cls.model_validate_json((base / name).read_text())
    return None


def save_result(reports_dir: Path, result: Outcome) -> Path:
    name = "result.json" if isinstance(result, PromptOptimized) else "failed.json"
    return _write(run_dir(reports_dir, result.run_id) / name, result.model_dump_json(indent=2))


def save_request(reports_dir: Path, env: Envelope[Any]) -> Path:
    return _write(run_dir(reports_dir, env.data.run_id) / "request.json", env.model_dump_json(indent=2))


def pending_requests(reports_dir: Path) -> list[RequestEnvelope]:
    """Accepted requests whose run never finished (the service stopped midway)."""
    found = []
    for path in sorted((reports_dir / "prompts").glob("*/request.json")):
        if not any((path.parent / name).exists() for name in ("result.json", "failed.json")):
            found.append(RequestEnvelope.model_validate_json(path.read_text()))
    return found
