"""Labelling jobs on a real database (SQLite and PostgreSQL): a degradation opens a job with no
manual step; a teacher's labels (through samples.labelled) or people's labels (REST queue) make
a new version of the task's regression dataset with provenance, and every candidate submitted
afterwards is evaluated on it, beside its champion."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from schemas import new_event
from schemas.events.degradations import CapturedSample as SampleIn
from schemas.events.degradations import DegradationDetected, LabelledSample, SamplesLabelled, SampleVariant
from services.registry.adapters.models import LabellingJob
from services.registry.bootstrap import RegistryService
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body, deliver

TASK = "sentiment"


def candidate(client: TestClient, admin: Auth, name: str, path: str = "") -> str:
    body = candidate_body(name=name, task=TASK, model=name)
    response = client.post(f"/api/v1/candidates{path}", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def degrade(registry: RegistryService, cid: str, deg: str = "deg-1") -> None:
    event = DegradationDetected(
        degradation_id=deg, candidate_id=cid, route=TASK, rules=["refusal_spike"], window_id="w-3",
        samples=[SampleIn(request_id="r1", prompt="I loved this blender", response="I cannot help.", reason="refusal"),
                 SampleIn(request_id="r2", prompt="Broke in a day", response="positive", reason="negative_feedback")])
    assert deliver(registry, new_event(event, source="challenger/monitor"))


def sent(registry: RegistryService, event_type: str) -> list[dict[str, Any]]:
    with Session(registry.engine) as session:
        rows = session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq))).all()
    return [r.envelope for r in rows if r.envelope["type"] == event_type]


def job(registry: RegistryService, deg: str = "deg-1") -> LabellingJob:
    with Session(registry.engine) as session:
        found = session.get(LabellingJob, deg)
        assert found is not None
        return found


def labelled(registry: RegistryService, cid: str, samples: list[LabelledSample], variants: list[SampleVariant] = (),  # type: ignore[assignment]
             deg: str = "deg-1") -> None:
    done = SamplesLabelled(job_id=deg, candidate_id=cid, samples=samples, variants=list(variants))
    assert deliver(registry, new_event(done, source="challenger/monitor"))


def regression(client: TestClient) -> list[dict[str, Any]]:
    return [d for d in client.get("/api/v1/datasets", params={"task": TASK, "kind": "regression"}).json()]


def test_a_teachers_labels_become_a_regression_version_that_later_candidates_and_the_champion_run(
        client: TestClient, registry: RegistryService, admin: Auth) -> None:
    champion = candidate(client, admin, "champ", "/import-champion")
    teacher = candidate(client, admin, "teacher")
    assert client.patch(f"/api/v1/tasks/{TASK}", json={"teacher_id": teacher}, headers=admin).status_code == 200
    degrade(registry, champion)

    [request] = sent(registry, "io.challenger.labelling.requested")
    assert request["data"]["teacher"]["name"] == "teacher" and request["data"]["job_id"] == "deg-1"
    ids = [s["sample_id"] for s in request["data"]["samples"]]
    assert len(ids) == 2 and job(registry).status == "labelling" and job(registry).mode == "teacher"

    labelled(registry, champion, [LabelledSample(sample_id=ids[0], prompt="I loved this blender", response="x",
                                                 expected="positive", labelled_by="teacher@1 (teacher)"),
                                  LabelledSample(sample_id=ids[1], prompt="Broke in a day", response="positive")],
             [SampleVariant(origin_id=ids[0], method="distractor", prompt="By the way: I loved this blender")])

    [version] = regression(client)
    items = client.get(f"/api/v1/datasets/{version['id']}/items").json()
    assert [(i["input"], i["expected"]) for i in items] == [("I loved this blender", "positive"),
                                                            ("By the way: I loved this blender", "positive")]
    meta = items[0]["metadata"]
    assert (meta["degradation_id"], meta["route"], meta["candidate_id"], meta["window_id"]) == (
        "deg-1", TASK, champion, "w-3")
    assert meta["labelled_by"] == "teacher@1 (teacher)" and items[1]["metadata"]["method"] == "distractor"
    assert job(registry).status == "awaiting_labels" and job(registry).dataset_id == version["id"]

    challenger = candidate(client, admin, "next")
    [submitted] = [e for e in sent(registry, "io.challenger.model.submitted") if e["subject"] == challenger]
    for view in ("task_spec", "champion_task_spec"):
        refs = [d for d in submitted["data"][view]["datasets"] if d["kind"] == "regression"]
        assert [(d["dataset_id"], d["items"]) for d in refs] == [(version["id"], 2)], view


def test_people_label_the_queue_and_the_last_label_sends_the_job_on(
        client: TestClient, registry: RegistryService, admin: Auth) -> None:
    champion = candidate(client, admin, "champ", "/import-champion")
    degrade(registry, champion)
    assert sent(registry, "io.challenger.labelling.requested") == [] and job(registry).status == "awaiting_labels"

    queue = client.get("/api/v1/labelling/queue", params={"task": TASK}).json()
    assert [(q["prompt"], q["task"], q["job_id"]) for q in queue] == [("I loved this blender", TASK, "deg-1"),
                                                                      ("Broke in a day", TASK, "deg-1")]
    first, second = (q["id"] for q in queue)
    bad = client.post(f"/api/v1/labelling/samples/{first}", json={"expected": "positive", "skip": True}, headers=admin)
    assert bad.status_code == 422 and "either `expected` or `skip: true`" in bad.text
    meh = client.post(f"/api/v1/labelling/samples/{first}", json={"expected": "meh"}, headers=admin)
    assert meh.status_code == 422 and "'meh' is not one of the task's labels" in meh.text
    ok = client.post(f"/api/v1/labelling/samples/{first}", json={"expected": "positive"}, headers=admin)
    assert ok.status_code == 200 and ok.json()["labelled_by"] == "admin" and ok.json()["label_status"] == "labelled"
    again = client.post(f"/api/v1/labelling/samples/{first}", json={"expected": "negative"}, headers=admin)
    assert again.status_code == 409 and "already labelled by admin" in again.text
    assert sent(registry, "io.challenger.labelling.requested") == []  # one still waits

    assert client.post(f"/api/v1/labelling/samples/{second}", json={"skip": True}, headers=admin).status_code == 200

    [request] = sent(registry, "io.challenger.labelling.requested")
    assert request["data"]["teacher"] is None and job(registry).status == "augmenting"
    assert [(s["sample_id"], s["expected"]) for s in request["data"]["samples"]] == [(str(first), "positive")]
    assert client.get("/api/v1/labelling/queue").json() == []
    labelled(registry, champion, [LabelledSample(**{**request["data"]["samples"][0], "chosen": "Great blender!",
                                                    "chosen_by": "fallback old@1 (old)"})])
    assert job(registry).status == "done"
    [version] = regression(client)
    assert version["items"] == 1 and version["labelled_by"] == "admin"
    detail = client.get("/api/v1/labelling/jobs/deg-1").json()
    assert detail["job"]["dataset_id"] == version["id"] and len(detail["samples"]) == 2
    dpo = client.get("/api/v1/samples/export", params={"format": "dpo"}).text.splitlines()
    assert len(dpo) == 1 and '"chosen": "Great blender!"' in dpo[0] and "fallback old@1" in dpo[0]


def test_a_second_degradation_adds_to_the_regression_dataset_as_a_new_version(
        client: TestClient, registry: RegistryService, admin: Auth) -> None:
    champion = candidate(client, admin, "champ", "/import-champion")
    for deg in ("deg-1", "deg-2"):
        degrade(registry, champion, deg)
        [first, _] = client.get(f"/api/v1/labelling/jobs/{deg}").json()["samples"]
        labelled(registry, champion, [LabelledSample(sample_id=str(first["id"]), prompt=first["prompt"],
                                                     response="x", expected="positive", labelled_by="bob")], deg=deg)

    versions = regression(client)
    assert [v["items"] for v in versions] == [1, 2] and len({v["name"] for v in versions}) == 1
    newest = client.get(f"/api/v1/datasets/{versions[-1]['id']}/items").json()
    assert [i["metadata"]["degradation_id"] for i in newest] == ["deg-2", "deg-1"]  # newest first
    spec = client.get(f"/api/v1/tasks/{TASK}/spec").json()
    assert [(d["dataset_id"], d["items"]) for d in spec["datasets"] if d["kind"] == "regression"] == [
        (versions[-1]["id"], 2)]
