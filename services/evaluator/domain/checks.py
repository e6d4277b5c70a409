"""What fails an evaluation before any model is called, and how a failure is said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.task import DatasetItem, TaskSpec
from shared.scoring.metrics import METRICS, score


class EvaluationFailure(Exception):
    """The evaluation cannot produce a trustworthy result; `reason` goes into evaluation.failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validate_task(task: TaskSpec, datasets: Mapping[str, Sequence[DatasetItem]]) -> None:
    """Surface a mis-declared metric before any model is called."""
    if task.metric == "judge":
        if not (task.metric_args.get("judge_url") and task.metric_args.get("judge_model")):
            raise EvaluationFailure("metric 'judge' needs metric_args.judge_url and metric_args.judge_model")
        return
    if task.metric not in METRICS:
        raise EvaluationFailure(f"unknown metric {task.metric!r}")
    for name, items in datasets.items():
        try:
            for item in items:
                score(task.metric, "", item.expected, task.metric_args)
        except ValueError as exc:
            raise EvaluationFailure(f"dataset {name}: {exc}") from exc
