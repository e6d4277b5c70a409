"""/candidates: submit, list, get, retire, transition, approve, history, scorecard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from services.registry.adapters.models import ApprovalPublic, Candidate, CandidatePublic, StageHistoryPublic
from services.registry.domain.endpoints import check_endpoint
from services.registry.domain.roles import Action, require
from services.registry.domain.validation import Invalid
from services.registry.entrypoints.api.body import body_schema, parse_body
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep, registry_of
from services.registry.handlers import candidates as handlers
from services.registry.handlers.lookup import get_or_404
from services.registry.handlers.scorecard import scorecard

router = APIRouter(prefix="/candidates", tags=["candidates"])


class TransitionIn(BaseModel):
    to_stage: str
    reason: str = Field("", max_length=2000)
    successor_id: str | None = Field(None, description="rolling back a production candidate: who takes over "
                                                       "production (default: the task's standby)")


class ReasonIn(BaseModel):
    reason: str = Field("", max_length=2000)


class ApproveIn(BaseModel):
    comment: str = Field("", max_length=2000)


async def candidate_spec(request: Request) -> CandidateSpec:
    spec = await parse_body(request, CandidateSpec)
    errors = check_endpoint(str(spec.endpoint) if spec.endpoint else None,
                            registry_of(request).settings.allowed_endpoints)
    if errors:
        raise Invalid(errors)
    return spec


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CandidatePublic,
             openapi_extra=body_schema(CandidateSpec))
def submit(session: SessionDep, user: CurrentUser, spec: CandidateSpec = Depends(candidate_spec)) -> Candidate:
    require(user.role, Action.submit)
    candidate = handlers.submit_candidate(session=session, spec=spec, submitted_by=user.name)
    return _committed(session, candidate)


@router.post("/import-champion", status_code=status.HTTP_201_CREATED, response_model=CandidatePublic,
             openapi_extra=body_schema(CandidateSpec))
def import_champion(session: SessionDep, user: CurrentUser,
                    spec: CandidateSpec = Depends(candidate_spec)) -> Candidate:
    """Register the setup already serving `spec.task` as its champion (operator): no gauntlet run."""
    require(user.role, Action.operate)
    return _committed(session, handlers.import_champion(session=session, spec=spec, actor=user.name))


@router.get("", response_model=list[CandidatePublic])
def list_candidates(session: SessionDep, stage: str | None = None, task: str | None = None,
                    tag: str | None = None, limit: int = Query(200, ge=1, le=10_000)) -> list[Candidate]:
    return handlers.list_candidates(session=session, stage=stage, task=task, tag=tag, limit=limit)


@router.get("/{candidate_id}", response_model=CandidatePublic)
def get_candidate(session: SessionDep, candidate_id: str) -> Candidate:
    return get_or_404(session, Candidate, candidate_id, "candidate")


@router.post("/{candidate_id}/retire", response_model=CandidatePublic)
def retire(session: SessionDep, user: CurrentUser, candidate_id: str, body: ReasonIn | None = None) -> Candidate:
    candidate = handlers.retire(session=session, candidate_id=candidate_id, actor=user.name, role=user.role,
                                reason=body.reason if body else "")
    return _committed(session, candidate)


@router.post("/{candidate_id}/transition", response_model=CandidatePublic)
def transition(session: SessionDep, user: CurrentUser, candidate_id: str, body: TransitionIn) -> Candidate:
    candidate = handlers.transition(session=session, candidate_id=candidate_id, to_stage=body.to_stage,
                                    actor=user.name, role=user.role, reason=body.reason,
                                    successor_id=body.successor_id)
    return _committed(session, candidate)


@router.post("/{candidate_id}/approve", response_model=ApprovalPublic)
def approve(session: SessionDep, user: CurrentUser, candidate_id: str, body: ApproveIn | None = None) -> ApprovalPublic:
    approval = handlers.approve(session=session, candidate_id=candidate_id, approver=user.name, role=user.role,
                                comment=body.comment if body else "")
    session.commit()
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    return ApprovalPublic(candidate_id=candidate_id, approver=approval.approver, comment=approval.comment,
                          stage=candidate.stage, evidence=approval.evidence)


@router.get("/{candidate_id}/history", response_model=list[StageHistoryPublic])
def history(session: SessionDep, candidate_id: str) -> list[Any]:
    return handlers.stage_history(session=session, candidate_id=candidate_id)


@router.get("/{candidate_id}/scorecard")
def get_scorecard(session: SessionDep, candidate_id: str) -> dict[str, Any]:
    return scorecard(session=session, candidate_id=candidate_id)


def _committed(session: SessionDep, candidate: Candidate) -> Candidate:
    session.commit()
    return candidate
