"""Everything known about one candidate, in one read."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from services.registry.adapters.models import Approval, Candidate, CapturedSample, ResultRecord, Task
from services.registry.handlers.candidates import stage_history
from services.registry.handlers.lookup import get_or_404
from shared.pipeline import Stage

LATEST_KINDS = ("evaluation", "loadtest", "prompt_optimization")
ALL_KINDS = ("evaluation", "deployment", "canary_step", "fallback", "degradation")


def scorecard(*, session: Session, candidate_id: str) -> dict[str, Any]:
    candidate = get_or_404(session, Candidate, candidate_id, "candidate")
    task = session.get(Task, candidate.task)
    records = list(session.exec(select(ResultRecord).where(ResultRecord.candidate_id == candidate_id)
                                .order_by(col(ResultRecord.at), col(ResultRecord.id))).all())
    card: dict[str, Any] = {
        "candidate": candidate.model_dump(mode="json"),
        # the champion is the task's production candidate; a record saying otherwise is no champion
        "is_champion": task is not None and task.champion_id == candidate_id and candidate.stage == Stage.production,
        "champion_id": task.champion_id if task else None,
        "stage_history": [h.model_dump(mode="json") for h in stage_history(session=session, candidate_id=candidate_id)],
        "approvals": [a.model_dump(mode="json") for a in session.exec(
            select(Approval).where(Approval.candidate_id == candidate_id)).all()],
        "captured_samples": session.exec(select(func.count()).select_from(CapturedSample)
                                         .where(CapturedSample.candidate_id == candidate_id)).one(),
        "children": list(session.exec(select(Candidate.id).where(Candidate.parent_id == candidate_id)).all()),
    }
    for kind in LATEST_KINDS:
        of_kind = [_record(r) for r in records if r.kind == kind]
        card[kind] = of_kind[-1] if of_kind else None
    for kind in ALL_KINDS:
        card[f"{kind}s"] = [_record(r) for r in records if r.kind == kind]
    return card


def _record(record: ResultRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"id", "candidate_id"})
