"""One production candidate per task, enforced by the database; promotion keeps the old champion
as standby; a production rollback hands production back in one step; the consistency API.
On real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.registry.adapters.database import alembic_config
from services.registry.adapters.models import Candidate, StageHistory
from services.registry.bootstrap import RegistryService
from shared.db import make_engine
from shared.outbox import OutboxEvent
from tests.integration.registry.conftest import Auth, candidate_body

API = "/api/v1"
PATH = ("evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval")


def _promote(client: TestClient, admin: Auth, approver: Auth, name: str) -> str:
    cid = client.post(f"{API}/candidates", json=candidate_body(name=name), headers=admin).json()["id"]
    for stage in PATH:
        assert client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": stage}, headers=admin).is_success
    assert client.post(f"{API}/candidates/{cid}/approve", json={}, headers=approver).json()["stage"] == "approved"
    for stage in ("canary", "production"):
        moved = client.post(f"{API}/candidates/{cid}/transition", json={"to_stage": stage, "reason": "canary passed"},
                            headers=admin)
        assert moved.status_code == 200, moved.text
    return cid


def _stages(client: TestClient, *ids: str) -> list[str]:
    return [client.get(f"{API}/candidates/{cid}").json()["stage"] for cid in ids]


def _champion(client: TestClient) -> str:
    return str(client.get(f"{API}/tasks/capitals").json()["champion_id"])


def _moves(registry: RegistryService, cid: str) -> list[tuple[str | None, str, str]]:
    with Session(registry.engine) as s:
        rows = s.exec(select(StageHistory).where(StageHistory.candidate_id == cid).order_by(StageHistory.id)).all()
        return [(h.from_stage, h.to_stage, h.reason) for h in rows]


def _stage_events(registry: RegistryService, cid: str) -> list[tuple[str, str]]:
    with Session(registry.engine) as s:
        rows = s.exec(select(OutboxEvent).where(OutboxEvent.key == cid).order_by(OutboxEvent.seq)).all()
        return [(r.envelope["data"]["from_stage"], r.envelope["data"]["to_stage"]) for r in rows
                if r.envelope["type"] == "io.challenger.model.stage_changed"]


def _row(name: str, task: str, stage: str) -> Candidate:
    return Candidate(name=name, task=task, stage=stage, submitted_by="t", root_submitted_by="t")


def test_the_database_refuses_a_second_production_candidate(registry: RegistryService) -> None:
    with Session(registry.engine) as s:
        s.add_all([_row("a", "capitals", "production"), _row("b", "capitals", "standby"),
                   _row("c", "sentiment", "production")])  # another task: fine
        s.commit()
        s.add(_row("d", "capitals", "production"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_promotion_keeps_the_old_champion_as_standby_and_retires_the_older_one(
        client: TestClient, registry: RegistryService, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    bob = token_for("bob", "approver")
    first = client.post(f"{API}/candidates/import-champion", json=candidate_body(name="first"), headers=admin).json()
    second = _promote(client, admin, bob, "second")

    assert _stages(client, first["id"], second) == ["standby", "production"] and _champion(client) == second
    assert _moves(registry, first["id"])[-1] == ("production", "standby",
                                                 f"replaced as champion by {second}; kept as its fallback")
    assert _stage_events(registry, first["id"]) == [("production", "standby")]

    third = _promote(client, admin, bob, "third")
    assert _stages(client, first["id"], second, third) == ["retired", "standby", "production"]
    assert _moves(registry, first["id"])[-1] == ("standby", "retired",
                                                 f"replaced as fallback by {second} when {third} was promoted")
    assert _champion(client) == third


def test_rolling_back_production_makes_the_standby_champion_again_in_one_step(
        client: TestClient, registry: RegistryService, admin: Auth, token_for: Callable[[str, str], Auth]) -> None:
    old = client.post(f"{API}/candidates/import-champion", json=candidate_body(name="old"), headers=admin).json()["id"]
    new = _promote(client, admin, token_for("bob", "approver"), "new")

    rolled = client.post(f"{API}/candidates/{new}/transition", headers=token_for("olga", "operator"),
                         json={"to_stage": "rolled_back", "reason": "pager: answers look wrong"})

    assert rolled.status_code == 200, rolled.text
    assert _stages(client, old, new) == ["production", "rolled_back"] and _champion(client) == old
    assert _moves(registry, old)[-1] == ("standby", "production",
                                         f"takes over production from {new}: pager: answers look wrong")
    again = client.post(f"{API}/candidates/{old}/transition", json={"to_stage": "rolled_back"}, headers=admin)
    assert again.status_code == 409 and "has no standby to take over production" in again.json()["detail"]
    assert _stages(client, old) == ["production"]


def test_coupled_and_champion_shortcuts_are_refused(client: TestClient, admin: Auth) -> None:
    champ = client.post(f"{API}/candidates/import-champion", json=candidate_body(name="c"), headers=admin).json()["id"]
    other = client.post(f"{API}/candidates", json=candidate_body(name="o"), headers=admin).json()["id"]

    twice = client.post(f"{API}/candidates/import-champion", json=candidate_body(name="c2"), headers=admin)
    assert twice.status_code == 409 and f"already has a production champion ({champ})" in twice.json()["detail"]
    put = client.put(f"{API}/tasks/capitals/champion", json={"candidate_id": other}, headers=admin)
    assert put.status_code == 409 and f"{other} is submitted" in put.json()["detail"]
    direct = client.post(f"{API}/candidates/{champ}/transition", json={"to_stage": "standby"}, headers=admin)
    assert direct.status_code == 409 and "only when another candidate is promoted" in direct.json()["detail"]
    retire = client.post(f"{API}/candidates/{champ}/retire", json={}, headers=admin)
    assert retire.status_code == 409 and "cannot move from production to retired" in retire.json()["detail"]


def test_consistency_without_a_gateway_checks_the_record_and_says_so(client: TestClient, admin: Auth) -> None:
    client.post(f"{API}/candidates/import-champion", json=candidate_body(name="c"), headers=admin)

    report = client.get(f"{API}/consistency").json()

    assert report["ok"] and report["problems"] == [] and report["gateways"] == []
    assert "no gateway is configured" in report["notes"][0]["message"]


def test_consistency_names_an_unreachable_gateway(client: TestClient, registry: RegistryService) -> None:
    registry.settings.gateway_admin_urls = "http://127.0.0.1:9"

    report = client.get(f"{API}/consistency").json()

    assert not report["ok"]
    assert report["problems"][0]["message"].startswith("gateway http://127.0.0.1:9 could not be read: GET")


def test_migration_0006_repairs_two_production_candidates_then_enforces_one(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0004")
        now = "2026-12-01 10:00:00"
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO task (name, description, metric, metric_args, prompt_template, "
                                 "prompt_style, champion_id, created_at) VALUES ('t', '', 'exact', '{}', '{input}', "
                                 "'chat', 'new', :at)"), {"at": now})
            for cid, moved in (("old", "2026-12-01 09:00:00"), ("new", "2026-12-01 08:00:00")):
                conn.execute(sa.text("INSERT INTO candidate (id, name, task, stage, submitted_by, spec, created_at, "
                                     "updated_at) VALUES (:id, :id, 't', 'production', 'x', '{}', :at, :at)"),
                             {"id": cid, "at": moved})

        command.upgrade(config, "head")

        with engine.connect() as conn:
            stages = dict(conn.execute(sa.text("SELECT id, stage FROM candidate")).all())
            [why] = conn.execute(sa.text("SELECT reason FROM stage_history WHERE candidate_id = 'old' "
                                         "AND from_stage = 'production' AND to_stage = 'standby'")).scalars().all()
        assert stages == {"old": "standby", "new": "production"}
        assert why.startswith("repair: task t had 2 production candidates; new (the task's recorded champion)")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("UPDATE candidate SET stage = 'production' WHERE id = 'old'"))
    finally:
        engine.dispose()
