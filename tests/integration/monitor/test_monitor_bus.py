"""The monitor service through the real broker: staging traffic becomes the reference; shifted
production traffic yields degradation.detected (with captured samples and an HTML report) and
alert.raised. Small windows keep it well under a minute."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord

from schemas import Envelope
from schemas.events import alerts, degradations
from services.monitor.config import MonitorConfig
from services.monitor.domain.windows import WindowKey
from services.monitor.entrypoints.http import create_app
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.integration.bus.helpers import raw_records
from tests.unit.monitor.synthetic import stream

pytestmark = pytest.mark.timeout(120)
WINDOW = 20


async def read_events(bootstrap: str, topic: str, route: str, want: int, timeout: float) -> list[Envelope[Any]]:
    def ours(r: ConsumerRecord) -> bool:
        try:  # other tests publish poison messages on the same catalogue topics
            return getattr(decode(r.key, r.value, r.headers).data, "route", None) == route
        except PoisonMessage:
            return False

    found = await raw_records(bootstrap, topic, ours, want, timeout)
    return [decode(r.key, r.value, r.headers) for r in found]


def report_size(path: str | None, folder: Path) -> int:
    assert path is not None and Path(path).is_relative_to(folder), path
    return Path(path).stat().st_size


async def wait_for(predicate: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


async def test_shifted_traffic_publishes_degradation_and_alert(broker: str, uid: str, tmp_path: Path) -> None:
    route = f"qa{uid}"
    settings = Settings(home=tmp_path, kafka_bootstrap=broker)
    cfg = MonitorConfig(window_size=WINDOW, reference_size=2 * WINDOW, routes=[route])
    app = create_app(settings, cfg, group=f"monitor-{uid}")
    store = app.state.service.monitor.deps.store
    async with app.router.lifespan_context(app), EventProducer(broker) as producer:
        await producer.publish_many(stream(2 * WINDOW, shift_at=None, route=f"{route}-staging", candidate=f"cand-{uid}",
                                                prefix="s"))
        await wait_for(lambda: len(store.load_reference(WindowKey(route, f"cand-{uid}"))) == 2 * WINDOW, timeout=30)
        await asyncio.wait_for(app.state.service.drift_ready, 60)  # Evidently imported in its worker
        await producer.publish_many(stream(3 * WINDOW, shift_at=0, route=route, candidate=f"cand-{uid}"))
        [deg] = await read_events(broker, degradations.TOPIC, route, want=1, timeout=40)
        [alert] = await read_events(broker, alerts.TOPIC, route, want=1, timeout=10)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitor") as http:
            status = (await http.get("/api/v1/monitor/status")).json()
            health = (await http.get("/health")).json()

    assert isinstance(deg.data, degradations.DegradationDetected) and deg.data.candidate_id == f"cand-{uid}"
    assert "drift_share" in deg.data.rules and deg.data.evidence["drift_share"] > 0.5
    assert "refusal_spike" in deg.data.rules
    assert deg.data.samples and all("refusal" in s.reason for s in deg.data.samples)
    assert report_size(deg.data.report_path, tmp_path / "reports" / "monitor" / route) > 10_000
    assert isinstance(alert.data, alerts.AlertRaised) and alert.data.alert_id == deg.data.degradation_id
    assert alert.causationid == deg.id and alert.data.severity == "critical"
    assert deg.data.degradation_id in status["degradations"]
    lag = health["consumers"][f"monitor-{uid}"]["lag"]  # per partition of challenger.inference read so far
    assert lag and all(key.startswith("challenger.inference:") and n >= 0 for key, n in lag.items())
    assert status["references"][f"{route}/cand-{uid}"] == 2 * WINDOW
