"""Consumed events on a real database: idempotent by event id (the inbox), commands checked by the
pipeline."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.degradations import CapturedSample as SampleIn
from schemas.events.degradations import DegradationDetected
from schemas.events.evaluations import EvaluationCompleted
from schemas.events.models import PolicyApplied, StageChangeRequested
from schemas.events.prompts import PromptOptimized
from services.registry.adapters.models import Candidate, CapturedSample, PromptVersion, ResultRecord
from services.registry.bootstrap import GROUP, RegistryService
from services.registry.handlers.projections import dedup_key
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body, deliver


def submitted(client: TestClient, admin: Auth) -> str:
    response = client.post("/api/v1/candidates", json=candidate_body(), headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def count(registry: RegistryService, model: type, *where: object) -> int:
    with Session(registry.engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_same_event_twice_makes_one_row(client: TestClient, registry: RegistryService, admin: Auth) -> None:
    cid = submitted(client, admin)
    event = new_event(EvaluationCompleted(evaluation_id="ev-1", candidate_id=cid, task="capitals",
                                          verdict="better"), source="test")
    assert deliver(registry, event) is True
    assert deliver(registry, event) is False
    assert count(registry, ResultRecord, ResultRecord.candidate_id == cid) == 1
    card = client.get(f"/api/v1/candidates/{cid}/scorecard").json()
    assert card["evaluation"]["run_id"] == "ev-1" and card["evaluation"]["summary"] == "dev: better"


def test_effects_commit_with_the_inbox_mark_or_not_at_all(client: TestClient, registry: RegistryService,
                                                          admin: Auth) -> None:
    """The handler runs in a worker thread, yet writes in the inbox's transaction: a crash before
    the mark commits leaves neither the row nor the mark, and the redelivery applies it once."""
    cid = submitted(client, admin)
    event = new_event(EvaluationCompleted(evaluation_id="ev-9", candidate_id=cid, task="capitals"), source="test")
    [applied, _feed] = registry.consumes()
    assert registry.inbox is not None
    with pytest.raises(RuntimeError), registry.inbox.once(GROUP, dedup_key(event), event.type):
        asyncio.run(applied.dispatch(event))
        raise RuntimeError("killed before the mark")
    assert count(registry, ResultRecord, ResultRecord.candidate_id == cid) == 0
    assert deliver(registry, event) is True and deliver(registry, event) is False
    assert count(registry, ResultRecord, ResultRecord.candidate_id == cid) == 1


def test_stage_change_requests_apply_or_are_rejected(client: TestClient,
                                                     registry: RegistryService, admin: Auth) -> None:
    cid = submitted(client, admin)
    legal = new_event(StageChangeRequested(candidate_id=cid, to_stage="evaluating", actor="deployer"), source="t")
    illegal = new_event(StageChangeRequested(candidate_id=cid, to_stage="production", actor="deployer"), source="t")
    deliver(registry, legal)
    deliver(registry, illegal)
    with Session(registry.engine) as session:
        assert session.get(Candidate, cid).stage == "evaluating"  # type: ignore[union-attr]
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.key == cid).order_by(OutboxEvent.seq)).all()
    changed, rejected = rows[-2].envelope, rows[-1].envelope
    assert changed["type"].endswith("model.stage_changed") and changed["causationid"] == legal.id
    assert rejected["type"].endswith("stage_change.rejected")
    assert "cannot move from evaluating to production" in rejected["data"]["reason"]


def test_accepted_prompt_creates_a_derived_prompt_and_candidate(client: TestClient, registry: RegistryService,
                                                                admin: Auth) -> None:
    cid = submitted(client, admin)
    derived = CandidateSpec.model_validate(candidate_body(name="smol-opt"))
    event = new_event(PromptOptimized(run_id="po-1", candidate_id=cid, accepted=True, reason="+12 points",
                                      baseline_score=0.5, best_score=0.62, prompt_template="Capital of {input}?",
                                      prompt_style="completion", derived_spec=derived), source="test")
    deliver(registry, event)
    deliver(registry, event)
    with Session(registry.engine) as session:
        [child] = session.exec(select(Candidate).where(Candidate.parent_id == cid)).all()
        prompt = session.get(PromptVersion, child.spec["prompt_version"])
    assert prompt is not None and prompt.template == "Capital of {input}?" and child.stage == "submitted"
    with Session(registry.engine) as session:
        submitted_rows = [r.envelope for r in session.exec(select(OutboxEvent)).all()
                          if r.envelope["type"].endswith("model.submitted") and r.key == child.id]
    task_spec = submitted_rows[0]["data"]["task_spec"]  # the derived candidate is evaluated with ITS prompt
    assert (task_spec["prompt_template"], task_spec["prompt_style"], task_spec["prompt_version"]) == (
        "Capital of {input}?", "completion", prompt.id)
    card = client.get(f"/api/v1/candidates/{cid}/scorecard").json()
    assert card["children"] == [child.id] and card["prompt_optimization"]["status"] == "accepted"


def test_degradation_samples_are_captured_negative(client: TestClient, registry: RegistryService, admin: Auth) -> None:
    cid = submitted(client, admin)
    samples = [SampleIn(request_id=f"r{i}", prompt="Capital of Peru?", response="Paris", reason="wrong")
               for i in range(3)]
    event = new_event(DegradationDetected(degradation_id="dg-1", candidate_id=cid, route="chat",
                                          rules=["accuracy_drop"], samples=samples), source="test")
    deliver(registry, event)
    deliver(registry, event)
    assert count(registry, CapturedSample, CapturedSample.candidate_id == cid) == 3
    listed = client.get("/api/v1/samples", params={"route": "chat"}).json()
    assert {s["label"] for s in listed} == {"negative"} and listed[0]["degradation_id"] == "dg-1"
    assert client.get(f"/api/v1/candidates/{cid}/scorecard").json()["degradations"][0]["summary"] == "accuracy_drop"

    assert client.get("/api/v1/samples/export", params={"format": "dpo"}).text == ""
    labelled = client.patch(f"/api/v1/samples/{listed[0]['id']}", json={"chosen": "Lima"}, headers=admin)
    assert labelled.status_code == 200
    export = client.get("/api/v1/samples/export", params={"format": "dpo", "route": "chat"}).text
    assert json.loads(export) == {"prompt": "Capital of Peru?", "chosen": "Lima", "rejected": "Paris",
                                  "metadata": {"chosen_from": "admin"}}


def test_a_gates_policy_is_kept_with_the_move_it_decided(client: TestClient,
                                                         registry: RegistryService, admin: Auth) -> None:
    cid = submitted(client, admin)
    judged = PolicyApplied(section="tasks.capitals", values={"accuracy": {"non_inferiority_margin": 0.2}},
                           overridden=["accuracy.non_inferiority_margin"])
    deliver(registry, new_event(StageChangeRequested(candidate_id=cid, to_stage="evaluating",
                                                                 actor="deployer", policy=judged), source="t"))
    card = client.get(f"/api/v1/candidates/{cid}/scorecard").json()
    first, moved = card["stage_history"]
    assert first["policy"] is None  # the submission: no gate
    assert moved["to_stage"] == "evaluating" and moved["policy"] == judged.model_dump(mode="json")
    with Session(registry.engine) as session:
        row = session.exec(select(OutboxEvent).where(OutboxEvent.key == cid).order_by(OutboxEvent.seq)).all()[-1]
    assert row.envelope["data"]["policy"]["section"] == "tasks.capitals"
