"""Approvals bound to evidence, on real SQLite and PostgreSQL: accepted only while a candidate is
awaiting_approval (409 naming the stage otherwise), naming the results they approve, void once
one of those is re-run, and never given by whoever submitted the root of a derived candidate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from schemas import EventData, new_event
from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed, SecuritySummary
from schemas.events.loadtests import LoadtestCompleted
from schemas.events.prompts import PromptOptimized
from services.registry.adapters.models import Candidate
from services.registry.bootstrap import RegistryService
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body, deliver

API = "/api/v1"
TO_AWAITING = ("evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval")
RED_TEAM = SecuritySummary(attacks=24, attack_success_rate=0.0)


def submit(client: TestClient, auth: Auth) -> str:
    response = client.post(f"{API}/candidates", json=candidate_body(), headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def move(client: TestClient, cid: str, stages: tuple[str, ...], admin: Auth) -> None:
    for stage in stages:
        moved = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": stage}, headers=admin)
        assert moved.status_code == 200, moved.text


def publish(registry: RegistryService, data: EventData, *, repeat: bool = False) -> None:
    """A result event with a new id; `repeat`: the same outcome as one delivered before, which the
    registry's inbox skips."""
    assert deliver(registry, new_event(data, source="test")) is not repeat


def staging_result(cid: str, evaluation_id: str, e2e_passed: bool = True) -> EvaluationCompleted:
    return EvaluationCompleted(evaluation_id=evaluation_id, candidate_id=cid, task="capitals", stage="staging",
                               e2e_passed=e2e_passed, security=RED_TEAM)


def approved_after_gauntlet(client: TestClient, registry: RegistryService, admin: Auth,
                            token_for: Callable[[str, str], Auth]) -> str:
    """alice's candidate with the results Dev and Staging record (dev evaluation with red team,
    load test, staging evaluation with E2E and red team), approved by bob."""
    cid = submit(client, token_for("alice", "submitter"))
    publish(registry, EvaluationCompleted(evaluation_id=f"{cid}:dev-eval", candidate_id=cid, task="capitals",
                                          verdict="better", security=RED_TEAM))
    publish(registry, LoadtestCompleted(loadtest_id=f"{cid}:loadtest", candidate_id=cid, levels=[]))
    publish(registry, staging_result(cid, f"{cid}:staging-eval"))
    move(client, cid, TO_AWAITING, admin)
    approved = approve(client, cid, token_for("bob", "approver"))
    assert approved.status_code == 200 and approved.json()["evidence"]["e2e"] == f"{cid}:staging-eval"
    return cid


def card(client: TestClient, cid: str) -> dict[str, Any]:
    return client.get(f"{API}/candidates/{cid}/scorecard").json()


def approve(client: TestClient, cid: str, auth: Auth) -> Any:
    return client.post(f"{API}/candidates/{cid}/approve", json={"comment": "lgtm"}, headers=auth)


def test_an_approval_before_dev_or_staging_ran_is_refused_and_never_kept(
        client: TestClient, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    cid, bob = submit(client, token_for("alice", "submitter")), token_for("bob", "approver")
    early = approve(client, cid, bob)
    assert early.status_code == 409 and f"{cid} is in stage submitted" in early.json()["detail"]
    move(client, cid, TO_AWAITING[:4], admin)
    during_staging = approve(client, cid, bob)
    assert during_staging.status_code == 409 and "is in stage staging" in during_staging.json()["detail"]
    move(client, cid, TO_AWAITING[4:], admin)
    # nothing was kept: the deployer's (or anyone's) move to approved finds no approval
    kept = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "approved"}, headers=admin)
    assert kept.status_code == 403 and "needs a recorded approval" in kept.json()["detail"]
    assert card(client, cid)["approvals"] == []

    ok = approve(client, cid, bob)
    assert ok.status_code == 200 and ok.json()["stage"] == "approved"
    again = approve(client, cid, bob)
    assert again.status_code == 409 and "is in stage approved" in again.json()["detail"]


def test_an_approval_names_its_evidence_and_a_rerun_voids_it(
        client: TestClient, registry: RegistryService, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    cid = approved_after_gauntlet(client, registry, admin, token_for)
    evidence = {"evaluation": f"{cid}:dev-eval", "loadtest": f"{cid}:loadtest", "red_team": f"{cid}:staging-eval",
                "e2e": f"{cid}:staging-eval"}
    [approval] = card(client, cid)["approvals"]
    assert approval["evidence"] == evidence and approval["voided_at"] is None
    assert f"approves evaluation {cid}:dev-eval, load test {cid}:loadtest" in card(client, cid)[
        "stage_history"][-1]["reason"]
    with Session(registry.engine) as session:
        events = [r.envelope for r in session.exec(select(OutboxEvent).where(OutboxEvent.key == cid)).all()]
    [published] = [e for e in events if e["type"].endswith("model.approved")]
    assert published["data"]["evidence"] == evidence

    # the staging result delivered again (a service that crashed after publishing): not a re-run
    publish(registry, staging_result(cid, f"{cid}:staging-eval"), repeat=True)
    assert card(client, cid)["approvals"][0]["voided_at"] is None

    publish(registry, staging_result(cid, "rerun-1", e2e_passed=False))
    [void] = card(client, cid)["approvals"]
    assert void["voided_at"] is not None and "evaluation rerun-1 completed after the approval" in void["void_reason"]
    last = card(client, cid)["stage_history"][-1]
    assert (last["from_stage"], last["to_stage"], last["actor"]) == ("approved", "approved", "registry")
    assert last["reason"].startswith("approval by bob void: evaluation rerun-1 completed")


def test_a_void_approval_no_longer_counts_for_moving_to_approved(
        client: TestClient, registry: RegistryService, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    cid = approved_after_gauntlet(client, registry, admin, token_for)
    publish(registry, EvaluationFailed(evaluation_id="rerun-2", candidate_id=cid, reason="endpoint down"))
    assert "evaluation rerun-2 failed after the approval" in card(client, cid)["approvals"][0]["void_reason"]
    with Session(registry.engine) as session:  # no legal move goes back; put it there to ask the rule
        candidate = session.get(Candidate, cid)
        assert candidate is not None
        candidate.stage = "awaiting_approval"
        session.add(candidate)
        session.commit()
    refused = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "approved"}, headers=admin)
    assert refused.status_code == 403 and "needs a recorded approval" in refused.json()["detail"]


def derive(registry: RegistryService, parent_id: str, run_id: str) -> str:
    spec = CandidateSpec.model_validate(candidate_body(name=f"opt-{run_id}"))
    publish(registry, PromptOptimized(run_id=run_id, candidate_id=parent_id, accepted=True, reason="+10 points",
                                      baseline_score=0.5, best_score=0.6, prompt_template="Capital of {input}?",
                                      derived_spec=spec))
    with Session(registry.engine) as session:
        [child] = session.exec(select(Candidate).where(Candidate.parent_id == parent_id)).all()
        assert child.submitted_by == "prompt_optimizer"
        return child.id


def test_the_root_submitter_cannot_approve_a_candidate_derived_from_theirs(
        client: TestClient, registry: RegistryService, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    root = submit(client, token_for("alice", "submitter"))
    child = derive(registry, root, "po-1")
    grandchild = derive(registry, child, "po-2")
    alice, bob = token_for("alice", "approver"), token_for("bob", "approver")
    for cid in (child, grandchild):
        move(client, cid, TO_AWAITING, admin)
        own = approve(client, cid, alice)
        assert own.status_code == 403, own.text
        assert "alice submitted the candidate this one derives from" in own.json()["detail"]
        assert approve(client, cid, bob).json()["stage"] == "approved"
        shown = client.get(f"{API}/candidates/{cid}").json()
        assert (shown["submitted_by"], shown["root_submitted_by"]) == ("prompt_optimizer", "alice")
