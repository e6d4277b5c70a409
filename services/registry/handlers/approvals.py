"""Approvals bound to evidence: what one records, when one is void, and who may not give one.

The stage move an approval makes (awaiting_approval -> approved) is in handlers/candidates.py.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from services.registry.adapters.models import Approval, Candidate, ResultRecord, StageHistory
from services.registry.adapters.models.columns import now
from services.registry.domain import approvals as rules

ACTOR = "registry"


def root_submitter(session: Session, parent_id: str | None, submitted_by: str) -> str:
    """Who submitted the root of a new candidate's lineage: its parent's root submitter (each row
    carries its own, so one lookup walks the whole chain), else the submitter."""
    parent = session.get(Candidate, parent_id) if parent_id else None
    return parent.root_submitted_by if parent is not None else submitted_by


def record_approval(session: Session, candidate: Candidate, approver: str, comment: str) -> Approval:
    """The approval of the candidate's current evidence (its latest completed results)."""
    results = session.exec(select(ResultRecord).where(ResultRecord.candidate_id == candidate.id)
                           .order_by(col(ResultRecord.at), col(ResultRecord.id))).all()
    approval = Approval(candidate_id=candidate.id, approver=approver, comment=comment,
                        evidence=rules.approved_evidence(results))
    session.add(approval)
    return approval


def standing_approvals(session: Session, candidate_id: str) -> list[Approval]:
    return list(session.exec(select(Approval).where(Approval.candidate_id == candidate_id,
                                                    col(Approval.voided_at).is_(None))).all())


def void_approvals(session: Session, result: ResultRecord) -> None:
    """A newer evaluation or load test of an approved candidate voids its approvals; the reason
    goes into the approval and the stage history (a row that stays in the current stage)."""
    candidate = session.get(Candidate, result.candidate_id)
    if candidate is None or not rules.voids(result):
        return
    for approval in standing_approvals(session, candidate.id):
        approval.voided_at, approval.void_reason = now(), rules.void_reason(approval.evidence, result)
        session.add(approval)
        session.add(StageHistory(candidate_id=candidate.id, from_stage=candidate.stage, to_stage=candidate.stage,
                                 actor=ACTOR, reason=f"approval by {approval.approver} void: {approval.void_reason}"))
