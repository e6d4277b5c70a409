"""The consistency check over this registry's record and every configured gateway."""

from __future__ import annotations

from sqlmodel import Session, select

from services.registry.adapters.gateways import read_gateways
from services.registry.adapters.models import Candidate, Task
from services.registry.domain.consistency import CandidateView, Report, TaskView, check
from shared.settings import Settings


def consistency(*, session: Session, settings: Settings) -> Report:
    tasks = [TaskView(name, champion) for name, champion in session.exec(select(Task.name, Task.champion_id)).all()]
    candidates = [CandidateView(cid, task, stage)
                  for cid, task, stage in session.exec(select(Candidate.id, Candidate.task, Candidate.stage)).all()]
    return check(tasks, candidates, read_gateways(settings.gateway_admins, settings.gateway_admin_key))
