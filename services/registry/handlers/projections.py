"""Consumed events: stage-change commands, result projections, derived prompts, captured samples.
Idempotent through the kit inbox: by event id, or by a result's business key (`dedup_key`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import Envelope
from schemas.events import degradations as dg
from schemas.events import evaluations as ev
from schemas.events import models as md
from schemas.events import prompts as pr
from services.registry.adapters.models import Candidate, CapturedSample, PromptVersion, ResultRecord
from services.registry.domain.errors import Forbidden, NotFound
from services.registry.domain.projections import PROJECTIONS, result_key
from services.registry.domain.roles import Role
from services.registry.domain.validation import Invalid
from services.registry.handlers.approvals import void_approvals
from services.registry.handlers.candidates import submit_candidate, transition
from services.registry.handlers.catalog import mark_datasets_used
from services.registry.handlers.config_search import on_config_search_completed
from services.registry.handlers.emit import emit
from services.registry.handlers.labelling import HOME_KEY, on_samples_labelled, open_job
from shared.kit.inbox import transaction
from shared.pipeline import IllegalTransition
from shared.settings import Settings

log = logging.getLogger(__name__)
EventHandler = Callable[[Session, Envelope[Any]], None]


def handle_event(engine: Engine, envelope: Envelope[Any], home: Path | None = None) -> None:
    """Apply one event: every handler of its type, in one transaction. Under the consumer it is
    the inbox's (see `dedup_key`), which commits the effects with the handled mark, so a repeat
    is skipped before it gets here. `home` holds the dataset blobs the handlers write (a
    labelling job's regression version)."""
    with transaction(engine) as session:
        session.info[HOME_KEY] = home or Settings().home
        for handler in HANDLERS.get(envelope.type, ()):
            handler(session, envelope)


def dedup_key(envelope: Envelope[Any]) -> str:
    """What the registry's inbox remembers of a consumed event: a run's result by its business
    key (kind, run id, outcome: a repeat under a new event id changes nothing, no second row, no
    second derived candidate; another outcome of the same run is recorded), anything else by
    its event id."""
    return result_key(envelope.type, envelope.data) or envelope.id


def on_stage_change_requested(session: Session, envelope: Envelope[md.StageChangeRequested]) -> None:
    cmd = envelope.data
    try:
        # Services that request moves act with operator rights; the pipeline still decides legality.
        # A refused move raises before anything is written.
        transition(session=session, candidate_id=cmd.candidate_id, to_stage=cmd.to_stage, actor=cmd.actor,
                   role=Role.operator, reason=cmd.reason, cause=envelope, successor_id=cmd.successor_id,
                   policy=cmd.policy)
    except (IllegalTransition, Forbidden, NotFound) as exc:
        emit(session, md.StageChangeRejected(candidate_id=cmd.candidate_id, to_stage=cmd.to_stage,
                                             actor=cmd.actor, reason=str(exc)), cause=envelope)


def project_result(session: Session, envelope: Envelope[Any]) -> None:
    row = PROJECTIONS[envelope.type].row(envelope.data)
    record = ResultRecord(event_id=envelope.id, kind=row.kind, run_id=row.run_id, candidate_id=row.candidate_id,
                          status=row.status, summary=row.summary, payload=envelope.data.model_dump(mode="json"),
                          at=envelope.time)
    session.add(record)
    void_approvals(session, record)


def on_evaluation_requested(session: Session, envelope: Envelope[ev.EvaluationRequested]) -> None:
    req = envelope.data
    mark_datasets_used(session=session, dataset_ids=[d.dataset_id for d in req.task_spec.datasets],
                       evaluation_id=req.evaluation_id)


def on_prompt_optimized(session: Session, envelope: Envelope[pr.PromptOptimized]) -> None:
    result = envelope.data
    parent = session.get(Candidate, result.candidate_id)
    if not (result.accepted and result.derived_spec and result.prompt_template and parent):
        return
    prompt = PromptVersion(task=parent.task, label=f"optimized-{result.run_id}", template=result.prompt_template,
                           prompt_style=result.prompt_style, parent_id=parent.spec.get("prompt_version"),
                           created_by="prompt_optimizer")
    session.add(prompt)
    session.flush()
    spec = result.derived_spec.model_copy(update={"prompt_version": prompt.id, "parent_id": parent.id,
                                                  "task": parent.task})
    try:  # validation raises before anything is written
        submit_candidate(session=session, spec=spec, submitted_by="prompt_optimizer", cause=envelope)
    except Invalid as exc:
        session.add(ResultRecord(event_id=f"{envelope.id}:derived", kind="prompt_optimization",
                                 run_id=result.run_id, candidate_id=parent.id, status="derived_invalid",
                                 summary=str(exc)))


def on_degradation_detected(session: Session, envelope: Envelope[dg.DegradationDetected]) -> None:
    """Store the captured samples and open their labelling job (no manual step)."""
    found = envelope.data
    candidate = session.get(Candidate, found.candidate_id)
    prompt_version = candidate.spec.get("prompt_version") if candidate else None
    samples = [CapturedSample(request_id=sample.request_id, prompt=sample.prompt, response=sample.response,
                              route=found.route, candidate_id=found.candidate_id, prompt_version=prompt_version,
                              reason=sample.reason, degradation_id=found.degradation_id, at=envelope.time)
               for sample in found.samples]
    session.add_all(samples)
    open_job(session, found, samples, envelope)


HANDLERS: dict[str, tuple[EventHandler, ...]] = {
    md.StageChangeRequested.event_type: (on_stage_change_requested,),
    ev.EvaluationRequested.event_type: (on_evaluation_requested,),
    **{event_type: (project_result,) for event_type in PROJECTIONS},
}
HANDLERS[pr.PromptOptimized.event_type] += (on_prompt_optimized,)
HANDLERS[dg.DegradationDetected.event_type] += (on_degradation_detected,)
HANDLERS[pr.ConfigSearchCompleted.event_type] = (on_config_search_completed,)
HANDLERS[dg.SamplesLabelled.event_type] = (on_samples_labelled,)

CONSUMED_TYPES: frozenset[str] = frozenset(HANDLERS)
