"""Finished runs stored by run id, so a redelivered request re-publishes its result instead
of running again (idempotency by deterministic run id)."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.events.prompts import PromptOptimized


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:120]


def run_dir(reports_dir: Path, run_id: str) -> Path:
    return reports_dir / "prompts" / _safe(run_id)


def load_result(reports_dir: Path, run_id: str) -> PromptOptimized | None:
    path = run_dir(reports_dir, run_id) / "result.json"
    return PromptOptimized.model_validate_json(path.read_text()) if path.exists() else None


def save_result(reports_dir: Path, result: PromptOptimized) -> Path:
    path = run_dir(reports_dir, result.run_id) / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(result.model_dump_json(indent=2))
    tmp.replace(path)
    return path
