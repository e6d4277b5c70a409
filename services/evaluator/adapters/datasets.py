"""Datasets by reference: read the blob, verify its sha256, validate every line."""

from __future__ import annotations

from importlib import resources

from schemas.task import DatasetItem, DatasetRef, TaskSpec
from services.evaluator.domain.redteam import validate_attack
from shared import blobs
from shared.datasets import DatasetError, parse_jsonl


def load_ref(ref: DatasetRef) -> list[DatasetItem]:
    """Raises BlobError / DatasetError with a readable reason."""
    return parse_jsonl(blobs.get(ref.uri, ref.sha256))


def load_task_datasets(task: TaskSpec, max_items: int | None = None) -> dict[str, list[DatasetItem]]:
    """Accuracy datasets by name (red-team refs excluded), each cut to `max_items`."""
    return {ref.name: load_ref(ref)[:max_items] for ref in task.datasets if ref.kind != "redteam"}


def builtin_attacks() -> list[DatasetItem]:
    text = resources.files("services.evaluator.adapters").joinpath("redteam_suite.jsonl").read_text()
    return [validate_attack(i) for i in parse_jsonl(text)]


def load_attacks(task: TaskSpec, extra: list[DatasetItem] | None = None) -> list[DatasetItem]:
    """The built-in suite plus any `redteam` datasets of the task and `extra` attacks."""
    attacks = builtin_attacks()
    for ref in task.datasets:
        if ref.kind == "redteam":
            attacks += [validate_attack(i) for i in load_ref(ref)]
    attacks += [validate_attack(i) for i in extra or []]
    ids = [a.id for a in attacks]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise DatasetError(f"red-team attack ids must be unique; repeated: {', '.join(dup[:5])}")
    return attacks
