"""The whole registry process shape (API + outbox relay + consumer) on a real broker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi.testclient import TestClient

from schemas import new_event
from schemas.events.models import StageChangeRequested
from services.registry.bootstrap import bootstrap
from services.registry.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.integration.registry.conftest import candidate_body
from tests.integration.registry.test_outbox import arrivals


def wait_until(check, timeout: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


async def request_move(bootstrap_servers: str, candidate_id: str) -> str:
    async with EventProducer(bootstrap_servers) as producer:
        event = new_event(StageChangeRequested(candidate_id=candidate_id, to_stage="evaluating", actor="deployer",
                                               reason="dev gauntlet"), source="test")
        await producer.publish(event)
    return event.id


def test_stage_change_request_is_applied_and_published(broker: str, sqlite_url: str, tmp_path: Path,
                                                       uid: str) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=sqlite_url, kafka_bootstrap=broker)
    registry = bootstrap(settings)
    auth = {"Authorization": f"Bearer {registry.admin_token}"}
    with TestClient(create_app(registry)) as client:
        cid = client.post("/api/v1/candidates", json=candidate_body(name=f"svc-{uid}"), headers=auth).json()["id"]
        cause = asyncio.run(request_move(broker, cid))
        wait_until(lambda: client.get(f"/api/v1/candidates/{cid}").json()["stage"] == "evaluating")
        history = client.get(f"/api/v1/candidates/{cid}/history").json()
        assert history[-1]["actor"] == "deployer" and history[-1]["reason"] == "dev gauntlet"
        wait_until(lambda: client.get("/api/v1/outbox").json()["pending"] == 0)
        assert client.get("/api/v1/outbox").json()["relay"]["published"] >= 2
    ids = asyncio.run(arrivals(broker, f"t-{uid}", {cid}, 3, settle_s=2.0))
    assert len(ids) == 3 and cause in ids  # submitted, the request itself, stage_changed: each once
