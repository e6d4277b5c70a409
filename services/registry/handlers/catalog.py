"""Tasks, datasets and prompt versions."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from schemas.events.models import ChampionChanged
from schemas.task import DatasetRef, TaskSpec, TrafficProfile
from services.registry.adapters.models import (
    Candidate,
    Dataset,
    PromptVersion,
    PromptVersionCreate,
    Task,
    TaskCreate,
    TaskUpdate,
)
from services.registry.domain.errors import Conflict
from services.registry.domain.validation import FieldError, Invalid, common_metadata_keys, template_syntax_errors
from services.registry.handlers.emit import emit
from services.registry.handlers.lookup import get_or_404
from shared import blobs
from shared.datasets import DatasetError, parse_jsonl
from shared.pipeline import Stage


def create_task(*, session: Session, task_in: TaskCreate) -> Task:
    if session.get(Task, task_in.name) is not None:
        raise Conflict(f"task {task_in.name!r} already exists; PATCH it instead")
    _check_own_template(task_in.prompt_template)
    task = Task.model_validate(task_in.model_dump(mode="json"))
    session.add(task)
    return task


REQUIRED_TASK_FIELDS = ("metric", "metric_args", "prompt_template", "prompt_style", "description")


def update_task(*, session: Session, name: str, task_in: TaskUpdate) -> Task:
    task = get_or_404(session, Task, name, "task")
    changes = task_in.model_dump(mode="json", exclude_unset=True)
    nulls = [FieldError(k, "cannot be null; leave it out to keep the current value")
             for k in REQUIRED_TASK_FIELDS if k in changes and changes[k] is None]
    if nulls:
        raise Invalid(nulls)
    if "prompt_template" in changes:
        _check_own_template(changes["prompt_template"])
    task.sqlmodel_update(changes)
    session.add(task)
    return task


def delete_task(*, session: Session, name: str) -> None:
    """Only an unused task can go: candidates, datasets and prompts keep their task."""
    task = get_or_404(session, Task, name, "task")
    for model, what in ((Candidate, "candidates"), (Dataset, "datasets"), (PromptVersion, "prompt versions")):
        if session.exec(select(model).where(model.task == name)).first() is not None:  # type: ignore[attr-defined]
            raise Conflict(f"task {name!r} still has {what}; it cannot be deleted")
    session.delete(task)


def _check_own_template(template: str) -> None:
    # Only the syntax: the variables are checked when a candidate is submitted, against the
    # datasets the task has by then.
    errors = template_syntax_errors("prompt_template", template)
    if errors:
        raise Invalid(errors)


def set_champion(*, session: Session, task_name: str, candidate_id: str, actor: str) -> Task:
    task = get_or_404(session, Task, task_name, "task")
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    if candidate.task != task.name:
        raise Conflict(f"candidate {candidate_id} belongs to task {candidate.task!r}, not {task.name!r}")
    if candidate.stage != Stage.production:
        raise Conflict(f"a task's champion is its production candidate; {candidate_id} is {candidate.stage} "
                       "(it becomes champion by being promoted to production)")
    previous, task.champion_id = task.champion_id, candidate_id
    session.add(task)
    if previous != candidate_id:
        emit(session, ChampionChanged(candidate_id=candidate_id, task=task.name, previous_id=previous, actor=actor),
             correlation_id=candidate_id)
    return task


def active_datasets(session: Session, task_name: str) -> list[Dataset]:
    """The newest version of each (name, kind) of a task."""
    rows = session.exec(select(Dataset).where(Dataset.task == task_name)
                        .order_by(col(Dataset.created_at), col(Dataset.id))).all()
    latest = {(d.name, d.kind): d for d in rows}
    return sorted(latest.values(), key=lambda d: (d.kind, d.name))


def task_spec(session: Session, task: Task, datasets: list[Dataset] | None = None) -> TaskSpec:
    datasets = active_datasets(session, task.name) if datasets is None else datasets
    refs = [DatasetRef(dataset_id=d.id, name=d.name, kind=d.kind, uri=d.uri, sha256=d.version, items=d.items,  # type: ignore[arg-type]
                       labelled_by=d.labelled_by) for d in datasets]
    return TaskSpec(name=task.name, metric=task.metric, metric_args=task.metric_args,  # type: ignore[arg-type]
                    prompt_template=task.prompt_template, prompt_style=task.prompt_style,  # type: ignore[arg-type]
                    system_prompt=task.system_prompt, datasets=refs,
                    traffic=TrafficProfile.model_validate(task.traffic) if task.traffic else None)


def upload_dataset(*, session: Session, home: Path, task_name: str, name: str, kind: str, data: bytes,
                   labelled_by: str | None = None) -> Dataset:
    """Store a JSONL dataset by content; the same bytes under the same name return the same version."""
    get_or_404(session, Task, task_name, "task")
    try:
        items = parse_jsonl(data)
    except (DatasetError, UnicodeDecodeError) as exc:
        raise Invalid([FieldError("file", str(exc))]) from exc
    uri, digest = blobs.put(home, data)
    existing = session.exec(select(Dataset).where(Dataset.task == task_name, Dataset.name == name,
                                                  Dataset.kind == kind, Dataset.version == digest)).first()
    if existing is not None:
        return existing
    dataset = Dataset(task=task_name, name=name, kind=kind, version=digest, items=len(items), uri=uri,
                      labelled_by=labelled_by, fields=common_metadata_keys(i.metadata for i in items))
    session.add(dataset)
    return dataset


def dataset_items(dataset: Dataset) -> list[dict[str, object]]:
    data = blobs.get(dataset.uri, dataset.version)
    return [item.model_dump(mode="json") for item in parse_jsonl(data)]


def delete_dataset(*, session: Session, dataset_id: str) -> None:
    dataset = get_or_404(session, Dataset, dataset_id, "dataset")
    if dataset.used_by:
        raise Conflict(f"dataset {dataset_id} is immutable: evaluation {dataset.used_by} used it")
    session.delete(dataset)


def mark_datasets_used(*, session: Session, dataset_ids: list[str], evaluation_id: str) -> None:
    for dataset_id in dataset_ids:
        dataset = session.get(Dataset, dataset_id)
        if dataset is not None and dataset.used_by is None:
            dataset.used_by = evaluation_id
            session.add(dataset)


def create_prompt_version(*, session: Session, prompt_in: PromptVersionCreate, created_by: str) -> PromptVersion:
    get_or_404(session, Task, prompt_in.task, "task")
    if prompt_in.parent_id is not None:
        get_or_404(session, PromptVersion, prompt_in.parent_id, "parent prompt version")
    prompt = PromptVersion.model_validate(prompt_in, update={"created_by": created_by})
    session.add(prompt)
    return prompt
