"""Silver datasets: a teacher candidate answers each item and its answer becomes `expected`.
Every labelled item records which model labelled it (`metadata.labelled_by`)."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.candidate import CandidateSpec
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.adapters.runner import Progress, Runner
from services.evaluator.domain.plan import Call
from services.evaluator.domain.results import ItemResult
from shared.engines import EngineClient, EngineError, Generation
from shared.processing import postprocess
from shared.scoring.labels import label_from, teacher_name
from shared.scoring.prompting import build_request

__all__ = ["label_from", "label_items", "teacher_name"]


async def label_items(client: EngineClient, teacher: CandidateSpec, task: TaskSpec, items: Sequence[DatasetItem], *,
                      concurrency: int = 8, progress: Progress | None = None) -> tuple[list[DatasetItem], int]:
    """(labelled items, how many were skipped because the teacher failed or gave no label)."""
    calls = [Call("accuracy", "candidate", "label", i, 0, build_request(task, i, teacher.decoding)) for i in items]

    async def keep(call: Call, gen: Generation | None, error: EngineError | None) -> ItemResult:
        text = postprocess(teacher.postprocess, gen.text) if gen else ""
        return ItemResult("accuracy", "candidate", "label", call.item.id, output=text,
                          error=str(error) if error else None)

    results = await Runner({"candidate": client}, concurrency, progress=progress).run(calls, keep)
    name, out = teacher_name(teacher), []
    for item, result in zip(items, results, strict=True):
        label = label_from(task, result.output) if result.error is None else None
        if label is not None:
            out.append(item.model_copy(update={"expected": label, "metadata": {**item.metadata, "labelled_by": name}}))
    return out, len(items) - len(out)
