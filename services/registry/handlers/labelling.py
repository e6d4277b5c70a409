"""Labelling jobs (the registry owns them: it is the system of record for captured samples and
datasets). A degradation opens a job; a teacher (through the monitor) or people label its
samples; the labelled samples and their augmentations become a new version of the task's
`regression` dataset, which every later evaluation's task spec carries."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from schemas import Envelope
from schemas.candidate import CandidateSpec
from schemas.events import degradations as dg
from schemas.task import TaskSpec
from services.registry.adapters.models import Candidate, CapturedSample, LabellingJob, StageHistory, Task
from services.registry.adapters.models.columns import now
from services.registry.domain import labelling as lab
from services.registry.domain.errors import Conflict, NotFound
from services.registry.domain.validation import FieldError, Invalid
from services.registry.handlers.candidates import candidate_task_spec
from services.registry.handlers.catalog import active_datasets, dataset_items, upload_dataset
from services.registry.handlers.emit import emit
from shared.scoring.labels import label_error

log = logging.getLogger(__name__)
HOME_KEY = "blob_home"  # Session.info key: where the event consumer stores dataset blobs


def open_job(session: Session, found: dg.DegradationDetected, samples: list[CapturedSample],
             cause: Envelope[Any]) -> LabellingJob | None:
    """A job for the degradation's samples: sent to the teacher when the task names one, else queued for people."""
    candidate = session.get(Candidate, found.candidate_id)
    task = session.get(Task, candidate.task) if candidate else None
    if candidate is None or task is None or not samples or session.get(LabellingJob, found.degradation_id):
        return None
    teacher = _spec(session, task.teacher_id)
    job = LabellingJob(id=found.degradation_id, task=task.name, route=found.route, candidate_id=candidate.id,
                       window_id=found.window_id, window_start=found.window_start, window_end=found.window_end,
                       mode=lab.TEACHER if teacher else lab.PEOPLE,
                       status="labelling" if teacher else "awaiting_labels",
                       note="" if teacher or not task.teacher_id else f"teacher {task.teacher_id} not found")
    session.add(job)
    session.flush()  # the samples get their ids
    if teacher is not None:
        _request(session, job, task, samples, teacher, cause)
    return job


def _spec(session: Session, candidate_id: str | None) -> CandidateSpec | None:
    candidate = session.get(Candidate, candidate_id) if candidate_id else None
    return CandidateSpec.model_validate(candidate.spec) if candidate else None


def fallback_spec(session: Session, task: str, degraded_id: str) -> CandidateSpec | None:
    """The candidate the route falls back to: the latest other candidate of the task that served in production."""
    query = (select(StageHistory.candidate_id).join(Candidate, col(Candidate.id) == col(StageHistory.candidate_id))
             .where(Candidate.task == task, StageHistory.to_stage == "production",
                    StageHistory.candidate_id != degraded_id)
             .order_by(col(StageHistory.at).desc(), col(StageHistory.id).desc()))
    return _spec(session, session.exec(query).first())


def _request(session: Session, job: LabellingJob, task: Task, samples: list[CapturedSample],
             teacher: CandidateSpec | None, cause: Envelope[Any] | None) -> None:
    """Ask the monitor to label (with `teacher`), answer (fallback) and augment the job's samples."""
    view = teacher or _spec(session, job.candidate_id)
    assert view is not None
    emit(session, dg.LabellingRequested(
        job_id=job.id, candidate_id=job.candidate_id, task_spec=candidate_task_spec(session, view),
        samples=[_wire(s) for s in samples], teacher=teacher, paraphraser=_spec(session, task.paraphraser_id),
        fallback=fallback_spec(session, task.name, job.candidate_id),
        methods=["distractor", "paraphrase"]), cause=cause, correlation_id=job.id)


def _wire(s: CapturedSample) -> dg.LabelledSample:
    return dg.LabelledSample(sample_id=str(s.id), prompt=s.prompt, response=s.response,
                             expected=s.expected if s.label_status == lab.LABELLED else None,
                             labelled_by=s.labelled_by, chosen=s.chosen, chosen_by=s.chosen_by)


def job_samples(session: Session, job_id: str) -> list[CapturedSample]:
    return list(session.exec(select(CapturedSample).where(CapturedSample.degradation_id == job_id)
                             .order_by(col(CapturedSample.id))).all())


def on_samples_labelled(session: Session, envelope: Envelope[dg.SamplesLabelled]) -> None:
    done = envelope.data
    job = session.get(LabellingJob, done.job_id)
    if job is None:
        log.warning("samples.labelled for unknown labelling job %s; ignored", done.job_id)
        return
    samples = {str(s.id): s for s in job_samples(session, job.id)}
    for given in done.samples:
        sample = samples.get(given.sample_id)
        if sample is None:
            continue
        if given.expected is not None and (problem := _label_problem(session, job, given.expected)):
            log.warning("job %s: label of sample %s refused (%s); it waits for people", job.id, sample.id, problem)
        elif sample.label_status == lab.PENDING and given.expected is not None:
            sample.expected, sample.labelled_by, sample.label_status = given.expected, given.labelled_by, lab.LABELLED
        if given.chosen and not sample.chosen:
            sample.chosen, sample.chosen_by = given.chosen, given.chosen_by
        session.add(sample)
    variants = [(int(v.origin_id), v.method, v.prompt) for v in done.variants if v.origin_id in samples]
    _new_version(session, job, list(samples.values()), variants)
    pending = sum(1 for s in samples.values() if s.label_status == lab.PENDING)
    _set_status(session, job, "awaiting_labels" if pending else "done",
                f"{pending} sample(s) the teacher could not label wait for people" if pending else job.note)


def _new_version(session: Session, job: LabellingJob, samples: list[CapturedSample],
                 variants: list[tuple[int, str, str]]) -> None:
    labelled = [lab.Labelled(s.id, s.request_id, s.prompt, s.expected, s.labelled_by, s.reason)  # type: ignore[arg-type]
                for s in samples if s.label_status == lab.LABELLED and s.id is not None]
    if not labelled:
        return
    prov = lab.Provenance(job.id, job.route, job.candidate_id, job.window_id,
                          job.window_start.isoformat() if job.window_start else None,
                          job.window_end.isoformat() if job.window_end else None)
    name = lab.regression_name(job.task)
    previous = next((d for d in active_datasets(session, job.task) if (d.name, d.kind) == (name, "regression")), None)
    items = lab.merged(dataset_items(previous) if previous else [], lab.regression_items(prov, labelled, variants))
    data = "".join(json.dumps(i.model_dump(mode="json"), ensure_ascii=False) + "\n" for i in items).encode()
    home: Path = session.info[HOME_KEY]
    dataset = upload_dataset(session=session, home=home, task_name=job.task, name=name, kind="regression",
                             data=data, labelled_by=_labellers(labelled))
    session.flush()
    job.dataset_id = dataset.id


def _labellers(labelled: list[lab.Labelled]) -> str:
    names = sorted({s.labelled_by or "?" for s in labelled})
    return (names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}")[:40]


def _set_status(session: Session, job: LabellingJob, status: str, note: str = "") -> None:
    job.status, job.note, job.updated_at = status, note, now()
    session.add(job)


def label_sample(session: Session, *, sample_id: int, expected: Any, skip: bool, person: str) -> CapturedSample:
    """A person labels (or skips) a queued sample; the job's last one sends the job on to augmentation."""
    sample = session.get(CapturedSample, sample_id)
    if sample is None:
        raise NotFound(f"sample {sample_id} not found")
    if sample.label_status != lab.PENDING:
        raise Conflict(f"sample {sample_id} is already {sample.label_status}"
                       + (f" by {sample.labelled_by}" if sample.labelled_by else ""))
    job = session.get(LabellingJob, sample.degradation_id) if sample.degradation_id else None
    if not skip and job is not None and (problem := _label_problem(session, job, expected)):
        raise Invalid([FieldError("expected", f"task {job.task}: {problem}")])
    if skip:
        sample.label_status, sample.labelled_by = lab.SKIPPED, person
    else:
        sample.expected, sample.labelled_by, sample.label_status = expected, person, lab.LABELLED
    session.add(sample)
    session.flush()
    if job is not None and job.status == "awaiting_labels":
        _queue_emptied(session, job)
    return sample


def _label_problem(session: Session, job: LabellingJob, expected: Any) -> str | None:
    """Why the job's task cannot score against `expected` (None: it can)."""
    task = session.get(Task, job.task)
    if task is None:
        return None
    return label_error(TaskSpec(name=task.name, metric=task.metric, metric_args=task.metric_args), expected)  # type: ignore[arg-type]


def _queue_emptied(session: Session, job: LabellingJob) -> None:
    samples = job_samples(session, job.id)
    if any(s.label_status == lab.PENDING for s in samples):
        return
    labelled = [s for s in samples if s.label_status == lab.LABELLED]
    task = session.get(Task, job.task)
    if not labelled or task is None:
        _set_status(session, job, "done", "every sample was skipped")
        return
    _request(session, job, task, labelled, None, None)
    _set_status(session, job, "augmenting")


def queue(session: Session, *, task: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Samples waiting for a person's label, oldest first, with their job's task and route."""
    query = (select(CapturedSample, LabellingJob)
             .join(LabellingJob, col(LabellingJob.id) == col(CapturedSample.degradation_id))
             .where(CapturedSample.label_status == lab.PENDING, LabellingJob.status == "awaiting_labels")
             .order_by(col(CapturedSample.id)).limit(limit))
    if task:
        query = query.where(LabellingJob.task == task)
    return [{**sample.model_dump(mode="json"), "task": job.task, "job_id": job.id}
            for sample, job in session.exec(query).all()]


def list_jobs(session: Session, *, task: str | None = None, status: str | None = None) -> list[LabellingJob]:
    query = select(LabellingJob).order_by(col(LabellingJob.created_at).desc())
    if task:
        query = query.where(LabellingJob.task == task)
    if status:
        query = query.where(LabellingJob.status == status)
    return list(session.exec(query).all())
