"""Candidates: submit, list, move through the pipeline, approve, retire."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from schemas import Envelope
from schemas.candidate import CandidateSpec
from schemas.events.models import ModelApproved, ModelStageChanged, ModelSubmitted, PolicyApplied
from schemas.task import TaskSpec
from services.registry.adapters.models import Approval, Candidate, Dataset, PromptVersion, StageHistory, Task
from services.registry.adapters.models.columns import now
from services.registry.domain.approvals import describe
from services.registry.domain.errors import Conflict, Forbidden
from services.registry.domain.roles import Action, Role, check_approver, require
from services.registry.domain.stages import Move, Peer, becomes_champion, plan_moves, plan_transition
from services.registry.domain.validation import FieldError, Invalid, check_template, provided_variables
from services.registry.handlers.approvals import record_approval, root_submitter, standing_approvals
from services.registry.handlers.catalog import active_datasets, set_champion, task_spec
from services.registry.handlers.emit import emit
from services.registry.handlers.lookup import get_or_404
from shared.pipeline import Stage


def submit_candidate(*, session: Session, spec: CandidateSpec, submitted_by: str,
                     cause: Envelope[Any] | None = None) -> Candidate:
    candidate, task, datasets = _insert(session, spec, submitted_by, Stage.submitted, "submitted")
    champion = session.get(Candidate, task.champion_id) if task.champion_id else None
    champion_spec = CandidateSpec.model_validate(champion.spec) if champion else None
    base = task_spec(session, task, datasets)
    emit(session, ModelSubmitted(
        candidate_id=candidate.id, spec=spec, submitted_by=submitted_by,
        task_spec=_with_prompt(session, base, spec.prompt_version),
        champion_id=champion.id if champion else None,
        champion_spec=champion_spec,
        champion_task_spec=_with_prompt(session, base, champion_spec.prompt_version) if champion_spec else None,
    ), cause=cause, correlation_id=candidate.id)
    return candidate


def import_champion(*, session: Session, spec: CandidateSpec, actor: str) -> Candidate:
    """Register the setup ALREADY serving a task as its champion, in `production`, without a
    gauntlet run (no model.submitted): how a team brings its current model under Challenger."""
    serving = _in_stages(session, spec.task, (Stage.production,))
    if serving:
        raise Conflict(f"task {spec.task!r} already has a production champion ({serving[0].id}); a new one "
                       "comes through the pipeline, which keeps the old one as its standby")
    candidate, task, _ = _insert(session, spec, actor, Stage.production, "imported as the serving champion")
    session.flush()
    set_champion(session=session, task_name=task.name, candidate_id=candidate.id, actor=actor)
    return candidate


def register_candidate(*, session: Session, spec: CandidateSpec, actor: str, stage: Stage, reason: str) -> Candidate:
    """Record a candidate in `stage` WITHOUT entering the pipeline (no model.submitted): e.g. a
    configuration-search variant kept for its lineage and figures."""
    return _insert(session, spec, actor, stage, reason)[0]


def candidate_task_spec(session: Session, spec: CandidateSpec) -> TaskSpec:
    """The task as this candidate runs it (its datasets, its own prompt version)."""
    task = get_or_404(session, Task, spec.task, "task")
    return _with_prompt(session, task_spec(session, task, active_datasets(session, task.name)), spec.prompt_version)


def _insert(session: Session, spec: CandidateSpec, actor: str, stage: Stage,
            reason: str) -> tuple[Candidate, Task, list[Dataset]]:
    """Validate, then add the candidate and its first history row (nothing is written if invalid)."""
    task, datasets = _validated_task(session, spec)
    candidate = Candidate(name=spec.name, task=task.name, submitted_by=actor, parent_id=spec.parent_id,
                          root_submitted_by=root_submitter(session, spec.parent_id, actor),
                          spec=spec.model_dump(mode="json"), stage=stage)
    session.add(candidate)
    session.add(StageHistory(candidate_id=candidate.id, to_stage=stage, actor=actor, reason=reason))
    return candidate, task, datasets


def _with_prompt(session: Session, spec: TaskSpec, prompt_version: str | None) -> TaskSpec:
    """The task as this candidate runs it: its own prompt version in place of the task's template."""
    prompt = session.get(PromptVersion, prompt_version) if prompt_version else None
    if prompt is None:
        return spec
    return spec.model_copy(update={"prompt_template": prompt.template, "prompt_version": prompt.id,
                                   "system_prompt": prompt.system_prompt or spec.system_prompt,
                                   "prompt_style": prompt.prompt_style or spec.prompt_style})


def _validated_task(session: Session, spec: CandidateSpec) -> tuple[Task, list[Dataset]]:
    task = session.get(Task, spec.task)
    if task is None:
        known = ", ".join(session.exec(select(Task.name)).all()) or "none yet"
        raise Invalid([FieldError("task", f"unknown task {spec.task!r}; known tasks: {known}")])
    datasets = active_datasets(session, task.name)
    errors = _reference_errors(session, spec, task)
    if not errors:
        field, template = _template_of(session, spec, task)
        errors = check_template(field, template, provided_variables(d.fields for d in datasets))
    if errors:
        raise Invalid(errors)
    return task, datasets


def _reference_errors(session: Session, spec: CandidateSpec, task: Task) -> list[FieldError]:
    errors = []
    if spec.parent_id and session.get(Candidate, spec.parent_id) is None:
        errors.append(FieldError("parent_id", f"unknown candidate {spec.parent_id!r}"))
    if spec.prompt_version:
        prompt = session.get(PromptVersion, spec.prompt_version)
        if prompt is None:
            errors.append(FieldError("prompt_version", f"unknown prompt version {spec.prompt_version!r}"))
        elif prompt.task != task.name:
            errors.append(FieldError("prompt_version", f"prompt version {prompt.id} belongs to task {prompt.task!r}"))
    return errors


def _template_of(session: Session, spec: CandidateSpec, task: Task) -> tuple[str, str]:
    if spec.prompt_version:
        return "prompt_version", get_or_404(session, PromptVersion, spec.prompt_version, "prompt version").template
    return "task", task.prompt_template


def list_candidates(*, session: Session, stage: str | None = None, task: str | None = None,
                    tag: str | None = None, limit: int = 200) -> list[Candidate]:
    query = select(Candidate).order_by(col(Candidate.created_at).desc())
    if stage:
        query = query.where(Candidate.stage == stage)
    if task:
        query = query.where(Candidate.task == task)
    rows = session.exec(query).all()
    return [c for c in rows if tag is None or _has_tag(c, tag)][:limit]


def _has_tag(candidate: Candidate, tag: str) -> bool:
    """`key` matches any value; `key=value` matches exactly."""
    key, sep, value = tag.partition("=")
    tags = candidate.spec.get("tags") or {}
    return key in tags and (not sep or tags[key] == value)


def transition(*, session: Session, candidate_id: str, to_stage: str, actor: str, role: Role | str,
               reason: str = "", cause: Envelope[Any] | None = None, successor_id: str | None = None,
               policy: PolicyApplied | None = None) -> Candidate:
    """Apply a requested move and the moves of the task's other candidates it carries (see
    domain.stages.plan_moves), all in this transaction: each is flushed before the next, so the
    database's one-production-per-task index never sees two. `policy`: what the gate behind the
    requested move judged with (a service's move), kept in that move's history row."""
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    target = plan_transition(candidate.stage, to_stage, role=role, approved=_has_approval(session, candidate_id))
    peers = _in_stages(session, candidate.task, (Stage.production, Stage.standby, Stage.canary))
    moves = plan_moves(Peer(candidate.id, candidate.stage), target, reason,
                       [Peer(p.id, p.stage) for p in peers], successor_id)
    by_id = {p.id: p for p in peers} | {candidate.id: candidate}
    for move in moves:
        _apply_move(session, by_id[move.candidate_id], move, actor=actor, cause=cause,
                    policy=policy if move.candidate_id == candidate.id else None)
    return candidate


def _in_stages(session: Session, task: str, stages: tuple[Stage, ...]) -> list[Candidate]:
    query = select(Candidate).where(Candidate.task == task, col(Candidate.stage).in_(stages))
    return list(session.exec(query.order_by(col(Candidate.id))).all())


def _apply_move(session: Session, candidate: Candidate, move: Move, *, actor: str,
                cause: Envelope[Any] | None, policy: PolicyApplied | None = None) -> None:
    _apply_stage(session, candidate, move.to_stage, actor=actor, reason=move.reason, cause=cause, policy=policy)
    session.flush()


def retire(*, session: Session, candidate_id: str, actor: str, role: Role | str, reason: str = "") -> Candidate:
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    if actor != candidate.submitted_by:
        try:
            require(role, Action.operate)
        except Forbidden as exc:
            raise Forbidden(f"only the submitter ({candidate.submitted_by}) or an operator may retire it: {exc}") \
                from exc
    return transition(session=session, candidate_id=candidate_id, to_stage=Stage.retired, actor=actor,
                      role=Role.operator, reason=reason or "retired")


def approve(*, session: Session, candidate_id: str, approver: str, role: Role | str, comment: str = "") -> Approval:
    """Approve the candidate's current evidence and move it to approved: only while it is
    awaiting_approval (Dev and Staging passed), never by whoever submitted it or its root."""
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    check_approver(role, approver, candidate.submitted_by, candidate.root_submitted_by)
    if candidate.stage != Stage.awaiting_approval:
        raise Conflict(f"{candidate_id} is in stage {candidate.stage}: an approval is accepted only while a "
                       f"candidate is {Stage.awaiting_approval.value}, after Dev and Staging passed")
    approval = record_approval(session, candidate, approver, comment)
    emit(session, ModelApproved(candidate_id=candidate_id, approver=approver, comment=comment,
                                evidence=approval.evidence), correlation_id=candidate_id)
    _apply_stage(session, candidate, Stage.approved, actor=approver,
                 reason=f"{comment or 'approved'} (approves {describe(approval.evidence)})")
    return approval


def _has_approval(session: Session, candidate_id: str) -> bool:
    """A standing approval: one whose evidence has not been re-run since."""
    return bool(standing_approvals(session, candidate_id))


def _apply_stage(session: Session, candidate: Candidate, target: Stage, *, actor: str, reason: str,
                 cause: Envelope[Any] | None = None, policy: PolicyApplied | None = None) -> Candidate:
    previous = candidate.stage
    candidate.stage = target
    candidate.updated_at = now()
    session.add(candidate)
    session.add(StageHistory(candidate_id=candidate.id, from_stage=previous, to_stage=target, actor=actor,
                             reason=reason, policy=policy.model_dump(mode="json") if policy else None))
    emit(session, ModelStageChanged(candidate_id=candidate.id, task=candidate.task, from_stage=previous,
                                    to_stage=target, actor=actor, reason=reason, policy=policy),
         cause=cause, correlation_id=candidate.id)
    if becomes_champion(target):
        set_champion(session=session, task_name=candidate.task, candidate_id=candidate.id, actor=actor)
    return candidate


def stage_history(*, session: Session, candidate_id: str) -> list[StageHistory]:
    get_or_404(session, Candidate, candidate_id, "candidate")
    return list(session.exec(select(StageHistory).where(StageHistory.candidate_id == candidate_id)
                             .order_by(col(StageHistory.id))).all())
