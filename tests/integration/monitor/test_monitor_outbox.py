"""The monitor publishes through its outbox: a degradation (and its alert) is stored once however
often its window is analysed, relayed to the real broker, and sent again when the broker
restarts empty (before, a degradation the broker lost was lost, and the deployer never fell back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from schemas.events import alerts, degradations
from services.monitor.adapters.outbox import OutboxPublish, open_outbox
from services.monitor.config import MonitorConfig
from services.monitor.domain.windows import WindowKey
from services.monitor.entrypoints.http import create_app
from shared import outbox
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.conftest import RestartableBroker
from tests.integration.bus.helpers import wait_until
from tests.integration.monitor.test_monitor_bus import read_events
from tests.unit.monitor.synthetic import stream
from tests.unit.monitor.test_stream import SHIFT_AT, WINDOW, feed, monitor

pytestmark = pytest.mark.timeout(180)


async def test_a_degradation_fired_twice_is_stored_once_and_relayed(broker: str, db_url: str, uid: str,
                                                                    tmp_path: Path) -> None:
    route, candidate = f"qa{uid}", f"cand-{uid}"
    engine = open_outbox(Settings(home=tmp_path, DATABASE_URL=db_url, kafka_bootstrap=broker))
    events = stream(12 * WINDOW, shift_at=SHIFT_AT, route=route, candidate=candidate)
    try:
        runs = [monitor(OutboxPublish(engine)) for _ in range(2)]
        for run in runs:  # the same windows analysed twice (a replay): the same degradations again
            await feed(run, events)
        assert runs[0].fired and runs[1].fired == runs[0].fired
        with Session(engine) as session:
            rows = session.exec(select(outbox.OutboxEvent).where(outbox.OutboxEvent.key == candidate)).all()
        kinds = sorted(r.envelope["type"].rsplit(".", 1)[-1] for r in rows)
        assert kinds == sorted(["detected", "raised"] * len(runs[0].fired))  # one row per event

        async with EventProducer(broker) as producer:
            assert await outbox.OutboxRelay(engine, producer).relay_once() == len(rows)
        [deg] = await read_events(broker, degradations.TOPIC, route, want=1, timeout=30)
        [alert] = await read_events(broker, alerts.TOPIC, route, want=1, timeout=30)
    finally:
        engine.dispose()
    assert deg.data.degradation_id == runs[0].fired[0] and alert.causationid == deg.id
    assert {deg.id, alert.id} <= {r.event_id for r in rows}


async def test_a_degradation_sent_before_a_broker_restart_is_on_the_new_log(
        restartable_broker: RestartableBroker, uid: str, tmp_path: Path) -> None:
    """The monitor service as deployed (its relay in its lifespan): the broker acknowledged the
    degradation, then restarted empty; the relay finds the log lost it and sends it again."""
    bootstrap, route = restartable_broker.bootstrap, f"qa{uid}"
    home = tmp_path / "home"
    settings = Settings(home=home, kafka_bootstrap=bootstrap, DATABASE_URL=None)
    cfg = MonitorConfig(window_size=WINDOW, reference_size=2 * WINDOW, routes=[route])
    app = create_app(settings, cfg, group=f"monitor-{uid}")
    async with app.router.lifespan_context(app):
        async with EventProducer(bootstrap) as producer:
            await producer.publish_many(stream(2 * WINDOW, shift_at=None, route=f"{route}-staging",
                                                    candidate=f"cand-{uid}", prefix="s"))
            own, store = WindowKey(route, f"cand-{uid}"), app.state.service.monitor.deps.store
            await wait_until(lambda: len(store.load_reference(own)) == 2 * WINDOW, 60,
                             "the staging traffic to become the reference")
            await producer.publish_many(stream(3 * WINDOW, shift_at=0, route=route, candidate=f"cand-{uid}"))
            [before] = await read_events(bootstrap, degradations.TOPIC, route, want=1, timeout=90)
        relay: outbox.OutboxRelay = app.state.service.relay
        await wait_until(lambda: outbox.pending_count(app.state.service.outbox) == 0, 30,
                         "the relay to mark the degradation and its alert sent")

        restartable_broker.restart()  # empty: no topics, no events
        await wait_until(lambda: relay.replayed >= 2, 90, "the relay to queue the lost events again")
        [after] = await read_events(bootstrap, degradations.TOPIC, route, want=1, timeout=60)
        [alert] = await read_events(bootstrap, alerts.TOPIC, route, want=1, timeout=30)
    assert (home / "monitor" / "outbox.db").exists()
    assert after.id == before.id and after.data.degradation_id == before.data.degradation_id
    assert alert.causationid == before.id
