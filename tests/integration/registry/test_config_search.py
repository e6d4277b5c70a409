"""Configuration searches in the registry, on both databases: the REST request goes out through
the outbox, and a `config_search.completed` registers every variant as a derived candidate with
its lineage, once, whatever is replayed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.prompts import ConfigSearchCompleted, ConfigSearchRequested
from schemas.task import TaskSpec
from services.prompt_optimizer.domain.config_event import to_event
from services.prompt_optimizer.domain.config_search import search_configs
from services.registry.adapters.models import Candidate
from services.registry.bootstrap import RegistryService
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body, deliver
from tests.unit.prompt_optimizer.scripted import items
from tests.unit.prompt_optimizer.test_config_search import SPACE, ScriptedModel, meter

SEARCH = {"space": {"temperature": [0.0, 0.7], "max_tokens": [4, 16],
                    "postprocess": [{"name": "raw", "steps": []}, {"name": "strip", "steps": [{"op": "strip"}]}]},
          "budget": {"max_eval_calls": 300}}


def base(client: TestClient, admin: Auth, **changes: object) -> str:
    response = client.post("/api/v1/candidates", json=candidate_body(**changes), headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def completed(cid: str, run_id: str, space: dict[str, Any] = SPACE) -> Envelope[ConfigSearchCompleted]:
    """A real result: the optimizer's own search (on a scripted model) turned into its event."""
    spec = CandidateSpec.model_validate(candidate_body())
    req = ConfigSearchRequested(run_id=run_id, candidate_id=cid, candidate=spec, task_spec=TaskSpec(name="capitals"),
                                space=space)
    outcome = asyncio.run(search_configs(spec, space, items(100), ScriptedModel(), meter(400)))
    return new_event(to_event(req, outcome, Path(f"/tmp/reports/configs/{run_id}/index.html")), source="test")


def children(registry: RegistryService, cid: str) -> list[Candidate]:
    with Session(registry.engine) as session:
        return list(session.exec(select(Candidate).where(Candidate.parent_id == cid)).all())


def outbox(registry: RegistryService, suffix: str) -> list[dict[str, Any]]:
    with Session(registry.engine) as session:
        return [r.envelope for r in session.exec(select(OutboxEvent).order_by(OutboxEvent.seq)).all()
                if r.envelope["type"].endswith(suffix)]


def test_post_publishes_the_request_through_the_outbox(client: TestClient,
                                                       registry: RegistryService, admin: Auth) -> None:
    cid = base(client, admin)
    response = client.post(f"/api/v1/candidates/{cid}/config-search", json=SEARCH | {"run_id": "cs-rest-1"},
                           headers=admin)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "requested" and response.json()["run_id"] == "cs-rest-1"
    [request] = [e for e in outbox(registry, "config_search.requested") if e["data"]["run_id"] == "cs-rest-1"]
    data = ConfigSearchRequested.model_validate(request["data"])
    assert data.candidate_id == cid and data.candidate.name == "smol" and data.task_spec.name == "capitals"
    assert data.space["max_tokens"] == [4, 16] and data.budget.max_eval_calls == 300
    assert data.requested_by == "admin" and request["subject"] == cid
    assert client.get("/api/v1/config-searches/cs-rest-1").json()["status"] == "requested"
    again = client.post(f"/api/v1/candidates/{cid}/config-search", json=SEARCH | {"run_id": "cs-rest-1"},
                        headers=admin)
    assert again.status_code == 409


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"space": {"temprature": [0.5]}}, "body.space", "unknown space dimension(s) ['temprature']"),
    ({"space": {"temperature": [9]}}, "body.space.temperature", "bad decoding value 9"),
    ({"space": {"max_tokens": []}}, "body.space.max_tokens", "at least 1 item"),
    ({"space": {"postprocess": [{"name": "x", "steps": [{"op": "shout"}]}]}}, "body.space.postprocess.0.steps.0.op",
     "Input should be"),
    ({"space": {"endpoints": [{"url": "not a url"}]}}, "body.space.endpoints.0.url", "URL"),
    ({"space": {}, "budget": {"max_eval_calls": 0}}, "body.budget.max_eval_calls", "greater than or equal to 1"),
])
def test_bad_searches_get_a_422_naming_the_field(client: TestClient, admin: Auth, body: dict[str, Any], field: str,
                                                  reason: str) -> None:
    cid = base(client, admin)
    response = client.post(f"/api/v1/candidates/{cid}/config-search", json=body, headers=admin)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["field"] == field and reason in error["reason"], error


def test_auth_unknown_candidate_and_endpoint_allow_list(client: TestClient, registry: RegistryService, admin: Auth,
                                                        token_for: Any) -> None:
    cid = base(client, admin)
    assert client.post(f"/api/v1/candidates/{cid}/config-search", json=SEARCH).status_code == 401
    approver = token_for("ann", "approver")
    assert client.post(f"/api/v1/candidates/{cid}/config-search", json=SEARCH, headers=approver).status_code == 403
    assert client.post("/api/v1/candidates/cand-nope/config-search", json=SEARCH, headers=admin).status_code == 404
    registry.settings.endpoint_allowlist = "127.0.0.1"
    inside = {"space": {"endpoints": [{"name": "q8", "url": "http://127.0.0.1:9000/v1"},
                                      {"name": "meta", "url": "http://169.254.169.254/"}]}}
    refused = client.post(f"/api/v1/candidates/{cid}/config-search", json=inside, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "space.endpoints.1.url"
    assert client.get("/api/v1/config-searches/cs-nope").status_code == 404


def test_completed_search_registers_each_variant_with_lineage_once(client: TestClient, registry: RegistryService,
                                                                   admin: Auth) -> None:
    cid = base(client, admin)
    event = completed(cid, "cs-done-1")
    assert deliver(registry, event) is True
    kids = children(registry, cid)
    assert len(kids) == len(event.data.variants) - 1 == 12  # every variant but the default (the base itself)
    assert {k.spec["tags"]["variant"] for k in kids} == {v.variant for v in event.data.variants} - {"default"}
    assert all(k.spec["tags"]["config_search_run"] == "cs-done-1" and k.stage == "retired" for k in kids)
    assert all(k.submitted_by == "config_search" for k in kids)
    assert outbox(registry, "model.submitted")[-1]["data"]["candidate_id"] == cid  # no gauntlet asked for

    # Replays: the same event, and the same run under another event id (a re-published result).
    assert deliver(registry, event) is False
    assert deliver(registry, new_event(event.data, source="test")) is True
    assert len(children(registry, cid)) == 12

    run = client.get("/api/v1/config-searches/cs-done-1").json()
    assert run["status"] == "completed" and run["recommended_variant"] == event.data.recommended_variant
    by_variant = {v["variant"]: v for v in run["variants"]}
    assert by_variant["default"]["candidate_id"] == cid
    assert {by_variant[k.spec["tags"]["variant"]]["candidate_id"] for k in kids} == {k.id for k in kids}
    assert run["recommended_candidate_id"] == by_variant[run["recommended_variant"]]["candidate_id"]
    assert [r["run_id"] for r in client.get(f"/api/v1/candidates/{cid}/config-searches").json()] == ["cs-done-1"]
    history = client.get(f"/api/v1/candidates/{kids[0].id}/history").json()
    assert "configuration search cs-done-1" in history[0]["reason"]

    svg = client.get("/api/v1/config-searches/cs-done-1/frontier.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count("data-variant=") == 13 and 'class="recommended"' in svg.text


def test_requested_search_can_submit_its_recommendation(client: TestClient,
                                                        registry: RegistryService, admin: Auth) -> None:
    cid = base(client, admin)
    body = SEARCH | {"run_id": "cs-sub-1", "submit_recommended": True}
    assert client.post(f"/api/v1/candidates/{cid}/config-search", json=body, headers=admin).status_code == 202
    event = completed(cid, "cs-sub-1")
    deliver(registry, event)
    run = client.get("/api/v1/config-searches/cs-sub-1").json()
    chosen = client.get(f"/api/v1/candidates/{run['recommended_candidate_id']}").json()
    assert chosen["stage"] == "submitted" and chosen["parent_id"] == cid
    submitted = outbox(registry, "model.submitted")[-1]
    assert submitted["data"]["candidate_id"] == chosen["id"] and submitted["causationid"] == event.id
    assert sum(k.stage == "submitted" for k in children(registry, cid)) == 1


def test_failed_search_and_unknown_base_register_nothing(client: TestClient, registry: RegistryService,
                                                         admin: Auth) -> None:
    cid = base(client, admin)
    failed = ConfigSearchCompleted(run_id="cs-fail-1", candidate_id=cid, status="failed", reason="failed: boom")
    deliver(registry, new_event(failed, source="test"))
    assert client.get("/api/v1/config-searches/cs-fail-1").json()["status"] == "failed"
    orphan = completed("cand-unknown", "cs-orphan-1")
    deliver(registry, orphan)
    run = client.get("/api/v1/config-searches/cs-orphan-1").json()
    assert "base candidate unknown" in run["reason"] and children(registry, "cand-unknown") == []
