"""Reading the task's datasets by reference (claim check), verified by sha256."""

from __future__ import annotations

from schemas.task import DatasetItem, TaskSpec
from shared.blobs import get
from shared.datasets import DatasetError, parse_jsonl

USABLE_KINDS = ("golden", "silver", "captured", "regression")


def load_items(task: TaskSpec) -> list[DatasetItem]:
    """Every labelled item of the task's usable datasets; ids must be unique across them."""
    refs = [r for r in task.datasets if r.kind in USABLE_KINDS]
    if not refs:
        raise DatasetError(f"task {task.name!r} has no golden/silver/captured/regression dataset to optimize on")
    items: dict[str, DatasetItem] = {}
    for ref in refs:
        for item in parse_jsonl(get(ref.uri, ref.sha256)):
            if item.expected is None:
                continue
            items.setdefault(item.id, item)
    return list(items.values())
