"""The REST API against real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.registry.adapters.models import ApiToken
from services.registry.bootstrap import RegistryService
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body

API = "/api/v1"


def submit(client: TestClient, auth: Auth, **changes: object) -> dict:
    response = client.post(f"{API}/candidates", json=candidate_body(**changes), headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def outbox_types(registry: RegistryService, candidate_id: str) -> list[str]:
    with Session(registry.engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.key == candidate_id)
                            .order_by(OutboxEvent.seq)).all()
        return [r.envelope["type"].removeprefix("io.challenger.") for r in rows]


def test_submit_list_get_retire(client: TestClient,
                                registry: RegistryService, token_for: Callable[[str, str], Auth]) -> None:
    alice = token_for("alice", "submitter")
    created = submit(client, alice)
    assert created["stage"] == "submitted" and created["submitted_by"] == "alice"
    other = submit(client, alice, name="other", task="sentiment", tags={})

    assert client.get(f"{API}/candidates/{created['id']}").json()["spec"]["model"] == "smollm2"
    assert [c["id"] for c in client.get(f"{API}/candidates", params={"task": "capitals"}).json()] == [created["id"]]
    assert [c["id"] for c in client.get(f"{API}/candidates", params={"tag": "team=search"}).json()] == [created["id"]]
    assert {c["id"] for c in client.get(f"{API}/candidates", params={"stage": "submitted"}).json()} == {
        created["id"], other["id"]}

    retired = client.post(f"{API}/candidates/{created['id']}/retire", json={"reason": "superseded"}, headers=alice)
    assert retired.status_code == 200 and retired.json()["stage"] == "retired"
    history = client.get(f"{API}/candidates/{created['id']}/history").json()
    assert [(h["from_stage"], h["to_stage"], h["actor"]) for h in history] == [
        (None, "submitted", "alice"), ("submitted", "retired", "alice")]
    assert outbox_types(registry, created["id"]) == ["model.submitted", "model.stage_changed"]


def test_model_submitted_carries_task_datasets_and_champion(client: TestClient, registry: RegistryService,
                                                             admin: Auth) -> None:
    champion = client.post(f"{API}/candidates/import-champion", json=candidate_body(name="champ"), headers=admin).json()
    assert client.put(f"{API}/tasks/capitals/champion", json={"candidate_id": champion["id"]},
                      headers=admin).status_code == 200
    challenger = submit(client, admin, name="challenger")
    with Session(registry.engine) as session:
        row = session.exec(select(OutboxEvent).where(OutboxEvent.key == challenger["id"])).one()
    data = row.envelope["data"]
    assert data["champion_id"] == champion["id"] and data["champion_spec"]["name"] == "champ"
    assert data["champion_task_spec"]["prompt_template"] == data["task_spec"]["prompt_template"]  # the task's own
    [dataset] = data["task_spec"]["datasets"]
    assert dataset["kind"] == "golden" and dataset["items"] > 0 and len(dataset["sha256"]) == 64
    assert row.envelope["correlationid"] == challenger["id"]


def test_yaml_body(client: TestClient, admin: Auth) -> None:
    body = yaml.safe_dump(candidate_body(name="from-yaml"))
    response = client.post(f"{API}/candidates", content=body, headers=admin | {"Content-Type": "application/yaml"})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "from-yaml"


def test_writes_need_a_valid_token(client: TestClient) -> None:
    response = client.post(f"{API}/candidates", json=candidate_body())
    assert response.status_code == 401 and "Authorization: Bearer" in response.json()["detail"]
    response = client.post(f"{API}/candidates", json=candidate_body(), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "unknown or revoked" in response.json()["detail"]
    assert client.get(f"{API}/candidates").status_code == 200


def test_tokens_are_hashed_at_rest(client: TestClient, registry: RegistryService,
                                   token_for: Callable[[str, str], Auth]) -> None:
    auth = token_for("carol", "operator")
    raw = auth["Authorization"].split()[1]
    with Session(registry.engine) as session:
        stored = session.exec(select(ApiToken).where(ApiToken.name == "carol")).one()
    assert stored.token_hash != raw and raw not in stored.model_dump_json()
    assert client.get(f"{API}/me", headers=auth).json()["role"] == "operator"


def test_only_admins_create_tokens(client: TestClient, token_for: Callable[[str, str], Auth]) -> None:
    response = client.post(f"{API}/tokens", json={"name": "x", "role": "admin"},
                           headers=token_for("op", "operator"))
    assert response.status_code == 403 and "manage_tokens" in response.json()["detail"]


def test_invalid_submissions_name_field_and_reason(client: TestClient, admin: Auth) -> None:
    cases = {
        "engine": candidate_body(engine="tgi"),
        "endpoint": candidate_body(endpoint="ftp//nowhere"),
        "decoding.temperature": candidate_body(decoding={"temperature": 9}),
        "task": candidate_body(task="nope"),
    }
    for field, body in cases.items():
        response = client.post(f"{API}/candidates", json=body, headers=admin)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["detail"]}, (field, response.json())
    bad = client.post(f"{API}/candidates", content=b"{not json", headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body"


def test_prompt_template_variables_must_be_provided(client: TestClient, admin: Auth) -> None:
    prompt = client.post(f"{API}/prompts", json={"task": "capitals", "label": "v2",
                                                  "template": "Country: {input}. Hint: {hint}"}, headers=admin)
    assert prompt.status_code == 201, prompt.text
    response = client.post(f"{API}/candidates", json=candidate_body(prompt_version=prompt.json()["id"]),
                           headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "prompt_version" and "{hint}" in error["reason"]


def test_transitions_409_and_operator_only_403(client: TestClient, admin: Auth,
                                               token_for: Callable[[str, str], Auth]) -> None:
    alice = token_for("alice", "submitter")
    cid = submit(client, alice)["id"]
    illegal = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "production"}, headers=alice)
    assert illegal.status_code == 409 and "cannot move from submitted to production" in illegal.json()["detail"]
    for stage in ("evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval"):
        moved = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": stage}, headers=admin)
        assert moved.status_code == 200, moved.text
    bob = token_for("bob", "approver")
    assert client.post(f"{API}/candidates/{cid}/approve", json={"comment": "lgtm"}, headers=bob).json()[
        "stage"] == "approved"
    client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "canary"}, headers=admin)
    forbidden = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "production"}, headers=alice)
    assert forbidden.status_code == 403 and "operator decision" in forbidden.json()["detail"]
    promoted = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": "production"},
                           headers=token_for("olga", "operator"))
    assert promoted.status_code == 200
    assert client.get(f"{API}/tasks/capitals").json()["champion_id"] == cid


def test_approval_rules(client: TestClient, registry: RegistryService, admin: Auth,
                        token_for: Callable[[str, str], Auth]) -> None:
    approver = token_for("ann", "approver")
    cid = client.post(f"{API}/candidates", json=candidate_body(), headers=token_for("ann", "submitter")).json()["id"]
    own = client.post(f"{API}/candidates/{cid}/approve", headers=approver)
    assert own.status_code == 403 and "ann submitted this candidate" in own.json()["detail"]
    as_submitter = client.post(f"{API}/candidates/{cid}/approve", headers=token_for("sam", "submitter"))
    assert as_submitter.status_code == 403
    ben = token_for("ben", "approver")
    early = client.post(f"{API}/candidates/{cid}/approve", json={"comment": "fine"}, headers=ben)
    assert early.status_code == 409 and "is in stage submitted" in early.json()["detail"]
    for stage in ("evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval"):
        client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": stage}, headers=admin)
    ok = client.post(f"{API}/candidates/{cid}/approve", json={"comment": "fine"}, headers=ben)
    assert ok.status_code == 200 and ok.json()["stage"] == "approved"
    assert outbox_types(registry, cid)[-2:] == ["model.approved", "model.stage_changed"]
    assert client.get(f"{API}/candidates/{cid}/scorecard").json()["approvals"][0]["approver"] == "ben"


def test_dataset_upload_validation_and_immutability(client: TestClient, registry: RegistryService, admin: Auth) -> None:
    good = b'{"id": "1", "input": "France?", "expected": "Paris"}\n{"id": "2", "input": "Peru?", "expected": "Lima"}\n'
    created = client.post(f"{API}/datasets", data={"task": "capitals", "name": "mine"},
                          files={"file": ("d.jsonl", good)}, headers=admin)
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["items"] == 2 and len(dataset["version"]) == 64
    again = client.post(f"{API}/datasets", data={"task": "capitals", "name": "mine"},
                        files={"file": ("d.jsonl", good)}, headers=admin)
    assert again.json()["id"] == dataset["id"]
    assert [i["id"] for i in client.get(f"{API}/datasets/{dataset['id']}/items").json()] == ["1", "2"]

    bad = good + b'{"id": "3", "inptu": "typo"}\n'
    rejected = client.post(f"{API}/datasets", data={"task": "capitals"}, files={"file": ("d.jsonl", bad)},
                           headers=admin)
    assert rejected.status_code == 422 and rejected.json()["detail"][0]["reason"].startswith("line 3:")

    from services.registry.handlers.catalog import mark_datasets_used

    with Session(registry.engine) as session:
        mark_datasets_used(session=session, dataset_ids=[dataset["id"]], evaluation_id="ev-1")
        session.commit()
    refused = client.delete(f"{API}/datasets/{dataset['id']}", headers=admin)
    assert refused.status_code == 409 and "ev-1" in refused.json()["detail"]


def test_feedback_goes_to_the_outbox(client: TestClient, registry: RegistryService, admin: Auth) -> None:
    response = client.post(f"{API}/feedback", json={"request_id": "r1", "route": "chat", "score": -1}, headers=admin)
    assert response.status_code == 202
    with Session(registry.engine) as session:
        row = session.exec(select(OutboxEvent).where(OutboxEvent.event_id == response.json()["event_id"])).one()
    assert row.topic == "challenger.inference" and row.key == "chat"


def test_task_crud(client: TestClient, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    body = {"name": "qa", "metric": "contains", "prompt_template": "Q: {input}\nA:", "prompt_style": "completion"}
    assert client.post(f"{API}/tasks", json=body, headers=token_for("sub", "submitter")).status_code == 403
    assert client.post(f"{API}/tasks", json=body, headers=admin).status_code == 201
    assert client.post(f"{API}/tasks", json=body, headers=admin).status_code == 409
    bad = client.post(f"{API}/tasks", json=body | {"name": "qa2", "metric": "bleu"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.metric"
    patched = client.patch(f"{API}/tasks/qa", json={"system_prompt": "Be brief."}, headers=admin)
    assert patched.json()["system_prompt"] == "Be brief." and patched.json()["metric"] == "contains"
    assert client.get(f"{API}/tasks/qa/spec").json()["prompt_style"] == "completion"
    assert client.delete(f"{API}/tasks/capitals", headers=admin).status_code == 409
    assert client.delete(f"{API}/tasks/qa", headers=admin).status_code == 204
    assert client.get(f"{API}/tasks/qa").status_code == 404


def test_an_imported_champion_is_in_production_without_a_gauntlet(client: TestClient, registry: RegistryService,
                                                                  admin: Auth, token_for) -> None:  # type: ignore[no-untyped-def]
    submitter = token_for("sub-import", "submitter")
    refused = client.post("/api/v1/candidates/import-champion", json=candidate_body(), headers=submitter)
    assert refused.status_code == 403
    response = client.post("/api/v1/candidates/import-champion", json=candidate_body(name="prod"), headers=admin)
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["stage"] == "production"
    assert client.get("/api/v1/tasks/capitals").json()["champion_id"] == imported["id"]
    with Session(registry.engine) as session:
        types = [r.envelope["type"] for r in session.exec(select(OutboxEvent)).all()]
    assert "io.challenger.champion.changed" in types and "io.challenger.model.submitted" not in types


def test_endpoints_outside_the_allow_list_are_refused(client: TestClient,
                                                      registry: RegistryService, admin: Auth) -> None:
    registry.settings.endpoint_allowlist = "models.internal, .example.com, 10.0.0.0/8"
    refused = client.post("/api/v1/candidates", json=candidate_body(endpoint="http://169.254.169.254/v1"),
                          headers=admin)
    assert refused.status_code == 422
    assert refused.json()["detail"][0] == {"field": "endpoint", "reason": refused.json()["detail"][0]["reason"]}
    assert "allow-list" in refused.json()["detail"][0]["reason"]
    for ok in ("http://models.internal:8000/v1", "https://api.example.com/v1", "http://10.1.2.3:30000"):
        assert client.post("/api/v1/candidates", json=candidate_body(endpoint=ok), headers=admin).status_code == 201


def test_oversized_bodies_get_413_with_the_limit(client: TestClient, registry: RegistryService, admin: Auth) -> None:
    limit = registry.settings.max_body_bytes
    response = client.post("/api/v1/candidates", content=b"x" * (limit + 1), headers=admin)
    assert response.status_code == 413 and str(limit) in response.json()["detail"]
    assert client.post("/api/v1/candidates", json=candidate_body(), headers=admin).status_code == 201


def test_a_task_carries_a_validated_traffic_profile_into_its_spec(client: TestClient, registry: RegistryService,
                                                                  admin: Auth) -> None:
    traffic = {"requests_per_month": 1_200_000, "input_tokens": 350, "output_tokens": 60}
    body = {"name": "support", "metric": "contains", "traffic": traffic}
    created = client.post(f"{API}/tasks", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["traffic"] == traffic
    assert client.get(f"{API}/tasks/support/spec").json()["traffic"] == traffic
    bad = client.post(f"{API}/tasks", json=body | {"name": "s2", "traffic": {**traffic, "input_tokens": 0}},
                      headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.traffic.input_tokens"
    unknown = client.patch(f"{API}/tasks/support", json={"traffic": {**traffic, "rps": 3}}, headers=admin)
    assert unknown.status_code == 422 and "rps" in unknown.text
    half = client.patch(f"{API}/tasks/support", json={"traffic": {"requests_per_month": 10}}, headers=admin)
    assert half.status_code == 422 and "input_tokens" in half.text
    changed = client.patch(f"{API}/tasks/support", json={"traffic": {**traffic, "output_tokens": 90}}, headers=admin)
    assert changed.status_code == 200 and changed.json()["traffic"]["output_tokens"] == 90
    cleared = client.patch(f"{API}/tasks/support", json={"traffic": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["traffic"] is None
    assert client.get(f"{API}/tasks/support/spec").json()["traffic"] is None
    assert client.get(f"{API}/tasks/capitals").json()["traffic"] is None  # a task made before has none
