"""Labels from a teacher model's answer: the evaluator's silver datasets and the monitor's
labelling of captured samples both go through here. Pure."""

from __future__ import annotations

from schemas.candidate import CandidateSpec
from schemas.task import TaskSpec
from shared.processing import postprocess
from shared.scoring.metrics import METRICS, extract_choice, score


def teacher_name(spec: CandidateSpec) -> str:
    return f"{spec.name}@{spec.version} ({spec.model})"


def label_from(task: TaskSpec, answer: str) -> str | None:
    """The label for a choice task (None when the teacher named none), else the stripped answer."""
    labels = task.metric_args.get("labels") or task.metric_args.get("choices")
    if task.metric == "choice" and isinstance(labels, list):
        return extract_choice(answer, [str(x) for x in labels])
    return answer.strip() or None


def label_of(task: TaskSpec, teacher: CandidateSpec, raw: str) -> str | None:
    """The teacher's raw answer, post-processed as the teacher's spec says, as a label; None
    when the task's metric could not score against it."""
    label = label_from(task, postprocess(teacher.postprocess, raw))
    return label if label is not None and label_error(task, label) is None else None


def label_error(task: TaskSpec, expected: object) -> str | None:
    """Why the task's metric cannot use `expected` as an item's label (None: it can). A
    dataset holding such a label fails every later evaluation's validation."""
    if task.metric not in METRICS:
        return None  # the judge grades free text
    labels = task.metric_args.get("labels") or task.metric_args.get("choices")
    if task.metric == "choice" and isinstance(labels, list) and str(expected) not in [str(x) for x in labels]:
        return f"{expected!r} is not one of the task's labels {labels}"
    try:
        score(task.metric, "", expected, task.metric_args)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None
