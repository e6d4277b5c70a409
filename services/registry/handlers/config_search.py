"""Configuration searches: the request (a `config_search.requested` through the outbox) and the
result (`config_search.completed`): every evaluated variant registered as a derived candidate
with its lineage, and the run kept as a read model.

Idempotent twice over: the event id (the processed-event log) and the run id (a run already
completed registers nothing again, whichever event id brings it)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from schemas import Envelope
from schemas.candidate import CandidateSpec
from schemas.events import prompts as pr
from services.registry.adapters.models import Candidate, ConfigSearch
from services.registry.domain.errors import Conflict
from services.registry.domain.validation import Invalid
from services.registry.handlers.candidates import candidate_task_spec, register_candidate, submit_candidate
from services.registry.handlers.emit import emit
from services.registry.handlers.lookup import get_or_404
from shared.pipeline import Stage

ACTOR = "config_search"
DONE = ("completed", "failed")


def request_search(*, session: Session, candidate_id: str, space: pr.SearchSpace, budget: pr.Budget,
                   actor: str, submit_recommended: bool = False, run_id: str | None = None) -> ConfigSearch:
    """Store the run as `requested` and publish the request, in one transaction."""
    base = get_or_404(session, Candidate, candidate_id, "candidate")
    run_id = run_id or f"cs-{uuid.uuid4().hex[:12]}"
    if session.get(ConfigSearch, run_id) is not None:
        raise Conflict(f"configuration search {run_id!r} already exists")
    spec = CandidateSpec.model_validate(base.spec)
    search = ConfigSearch(run_id=run_id, candidate_id=base.id, requested_by=actor,
                          submit_recommended=submit_recommended, space=space.as_event_space(),
                          budget=budget.model_dump(mode="json"))
    session.add(search)
    emit(session, pr.ConfigSearchRequested(run_id=run_id, candidate_id=base.id, candidate=spec,
                                           task_spec=candidate_task_spec(session, spec), space=search.space,
                                           budget=budget, requested_by=actor), correlation_id=base.id)
    return search


def searches_of(*, session: Session, candidate_id: str) -> list[ConfigSearch]:
    get_or_404(session, Candidate, candidate_id, "candidate")
    return list(session.exec(select(ConfigSearch).where(ConfigSearch.candidate_id == candidate_id)
                             .order_by(col(ConfigSearch.requested_at).desc())).all())


def on_config_search_completed(session: Session, envelope: Envelope[pr.ConfigSearchCompleted]) -> None:
    result = envelope.data
    search = session.get(ConfigSearch, result.run_id) or ConfigSearch(run_id=result.run_id,
                                                                      candidate_id=result.candidate_id)
    if search.status in DONE:
        return
    parent = session.get(Candidate, result.candidate_id)
    registered = _register_variants(session, envelope, search, parent) \
        if parent is not None and result.status == "completed" else {}
    search.status = result.status
    search.reason = result.reason if parent else f"{result.reason} (base candidate unknown: nothing registered)"
    search.recommended_variant = result.recommended_variant
    search.recommended_candidate_id = registered.get(result.recommended_variant or "", {}).get("candidate_id")
    search.cost_unit, search.report_path, search.spent = result.cost_unit, result.report_path, result.spent
    search.variants = [v.model_dump(mode="json") | registered.get(v.variant, {}) for v in result.variants]
    search.completed_at = envelope.time
    session.add(search)


def _register_variants(session: Session, envelope: Envelope[pr.ConfigSearchCompleted], search: ConfigSearch,
                       parent: Candidate) -> dict[str, dict[str, Any]]:
    """variant id -> {candidate_id} (or {registration_error}); `default` is the base itself."""
    out: dict[str, dict[str, Any]] = {}
    for v in envelope.data.variants:
        if v.is_default:
            out[v.variant] = {"candidate_id": parent.id}
            continue
        spec = v.spec.model_copy(update={"parent_id": parent.id, "task": parent.task})
        try:  # validation raises before anything is written
            if v.recommended and search.submit_recommended:
                candidate = submit_candidate(session=session, spec=spec, submitted_by=ACTOR, cause=envelope)
            else:
                candidate = register_candidate(session=session, spec=spec, actor=ACTOR, stage=Stage.retired,
                                               reason=_why_retired(envelope.data.run_id, v))
        except Invalid as exc:
            out[v.variant] = {"registration_error": str(exc)}
            continue
        out[v.variant] = {"candidate_id": candidate.id}
    return out


def _why_retired(run_id: str, v: pr.ConfigVariantResult) -> str:
    role = "recommended" if v.recommended else "on the frontier" if v.frontier else \
        "finalist" if v.finalist else f"dropped at rung {v.rung}"
    return (f"configuration search {run_id}, variant {v.variant} ({role}): registered for its lineage and "
            f"figures, not entered into the pipeline")
