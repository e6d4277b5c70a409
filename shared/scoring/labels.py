"""Labels from a teacher model's answer: the evaluator's silver datasets and the monitor's
labelling of captured samples both go through here. Pure."""

from __future__ import annotations

from schemas.candidate import CandidateSpec
from schemas.task import TaskSpec
from shared.processing import postprocess
from shared.scoring.metrics import extract_choice


def teacher_name(spec: CandidateSpec) -> str:
    return f"{spec.name}@{spec.version} ({spec.model})"


def label_from(task: TaskSpec, answer: str) -> str | None:
    """The label for a choice task (None when the teacher named none), else the stripped answer."""
    labels = task.metric_args.get("labels") or task.metric_args.get("choices")
    if task.metric == "choice" and isinstance(labels, list):
        return extract_choice(answer, [str(x) for x in labels])
    return answer.strip() or None


def label_of(task: TaskSpec, teacher: CandidateSpec, raw: str) -> str | None:
    """The teacher's raw answer, post-processed as the teacher's spec says, as a label."""
    return label_from(task, postprocess(teacher.postprocess, raw))
