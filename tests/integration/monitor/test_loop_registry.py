"""Closing the loop with the real registry process: a degradation.detected from the monitor's
domain is stored as captured samples; `samples export` reads them over REST (DPO with the
preferred answer), and `add-to-regression` uploads them as a task's regression dataset."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from challenger.client import AsyncClient
from schemas import new_event
from services.monitor.domain.capture import Failing
from services.monitor.domain.degradation import degradation_event
from services.monitor.domain.exports import export_rows
from services.monitor.domain.features import record_of
from services.monitor.domain.rules import Breach
from services.monitor.domain.windows import Window, WindowKey
from services.monitor.handlers.samples import add_to_regression, load_samples
from shared.bus.producer import EventProducer
from shared.process import Proc, free_port
from tests.unit.monitor.synthetic import stream

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def registry_url(broker: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    port, home = free_port(), tmp_path / "registry"
    proc = Proc(name="registry", argv=[sys.executable, "-m", "services.registry"], port=port, home=home,
                health_url=f"http://127.0.0.1:{port}/health", start_timeout=90,
                env={"CHALLENGER_HOME": str(home), "DATABASE_URL": f"sqlite:///{home / 'registry.db'}",
                     "CHALLENGER_KAFKA_BOOTSTRAP": broker, "CHALLENGER_REGISTRY_PORT": str(port)})
    proc.start()
    try:
        proc.wait_healthy()
        yield f"http://127.0.0.1:{port}", (home / "admin-token").read_text().strip()
    finally:
        proc.stop()


def degradation(uid: str):  # type: ignore[no-untyped-def]
    events = stream(3, shift_at=0, route=f"qa{uid}", candidate=f"cand-{uid}")
    records = tuple(record_of(e.data, e.time.timestamp()) for e in events)
    window = Window(WindowKey(f"qa{uid}", f"cand-{uid}"), 1, records[0].at, records[-1].at, records)
    return degradation_event(window, [Breach("refusal_spike", 1.0, 0.25)],
                             [Failing(r, ("refusal",)) for r in records], {"refusal_spike": 1.0}, None)


async def test_captured_samples_export_and_regression(broker: str, registry_url: tuple[str, str], uid: str) -> None:
    url, token = registry_url
    event = degradation(uid)
    async with EventProducer(broker) as producer:
        await producer.publish(new_event(event, source="challenger/monitor"))
    registry = AsyncClient(url, token=token)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with asyncio.timeout(60):
            while len(rows := await registry.samples(candidate_id=event.candidate_id)) < 3:
                await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=url, headers=auth) as http:
            (await http.patch(f"/api/v1/samples/{rows[0]['id']}", json={"chosen": "Paris is the capital."})
             ).raise_for_status()
            (await http.post("/api/v1/tasks", json={"name": f"qa{uid}"})).raise_for_status()
        samples = await load_samples(registry=registry, candidate_id=event.candidate_id, input_path=None)
        dpo, skipped = export_rows(samples, "dpo")
        dataset = await add_to_regression(registry, f"qa{uid}", samples)
    finally:
        await registry.aclose()

    assert len(samples) == 3 and skipped == 2
    assert dpo[0]["chosen"] == "Paris is the capital." and dpo[0]["rejected"] == event.samples[0].response
    assert dpo[0]["metadata"]["route"] == f"qa{uid}" and dpo[0]["metadata"]["reason"] == "refusal"
    assert dataset.kind == "regression" and dataset.items == 3 and dataset.task == f"qa{uid}"
