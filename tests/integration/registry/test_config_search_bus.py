"""The registry process (API + outbox relay + consumer) on a real broker: a configuration search
requested over REST reaches the broker, and a `config_search.completed` read from the broker
registers the variants as derived candidates with their lineage."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from schemas.events.prompts import TOPIC
from services.registry.bootstrap import bootstrap
from services.registry.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.integration.bus.helpers import first_event
from tests.integration.registry.conftest import candidate_body
from tests.integration.registry.test_config_search import SEARCH, completed
from tests.integration.registry.test_service import wait_until


async def publish(broker: str, event: object) -> None:
    async with EventProducer(broker) as producer:
        await producer.publish(event)  # type: ignore[arg-type]


def test_rest_request_reaches_the_broker_and_the_result_registers_variants(broker: str, sqlite_url: str,
                                                                          tmp_path: Path, uid: str) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=sqlite_url, kafka_bootstrap=broker)
    registry = bootstrap(settings)
    auth = {"Authorization": f"Bearer {registry.admin_token}"}
    run_id = f"cs-bus-{uid}"
    with TestClient(create_app(registry)) as client:
        cid = client.post("/api/v1/candidates", json=candidate_body(name=f"cs-{uid}"), headers=auth).json()["id"]
        started = client.post(f"/api/v1/candidates/{cid}/config-search", json=SEARCH | {"run_id": run_id},
                              headers=auth)
        assert started.status_code == 202, started.text
        request, _ = asyncio.run(first_event(broker, TOPIC, f"cs-req-{uid}", lambda e: (
            e.type == "io.challenger.config_search.requested" and e.data.run_id == run_id)))
        assert request.data.candidate_id == cid and request.subject == cid
        assert request.data.space["temperature"] == [0.0, 0.7]

        result = completed(cid, run_id)
        asyncio.run(publish(broker, result))
        wait_until(lambda: client.get(f"/api/v1/config-searches/{run_id}").json()["status"] == "completed")
        kids = client.get("/api/v1/candidates", params={"tag": f"config_search_run={run_id}"}).json()
        assert len(kids) == len(result.data.variants) - 1
        assert {k["parent_id"] for k in kids} == {cid}
        assert {k["spec"]["tags"]["variant"] for k in kids} == {v.variant for v in result.data.variants} - {"default"}
        assert cid in client.get(f"/api/v1/candidates/{kids[0]['id']}/scorecard").json()["candidate"]["parent_id"]
