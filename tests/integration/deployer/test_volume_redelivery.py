"""The deployer's traffic consumer folds a batch of logged inferences into the routes' volumes,
then dies before it commits the batch's offsets (its commit raises, the window a SIGKILL
between the two would hit): the next consumer of the group is handed the batch again, and the
route's stored volume counts every logged inference exactly once. Real Tansu broker, the
kit's consumer and the deployer's batch handler, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas import new_event
from schemas.events.inference import InferenceLogged
from services.deployer.adapters import store
from services.deployer.bootstrap import Adapters, DeployerService, bootstrap
from services.deployer.config import DeployerSettings
from shared.bus.consumer import EventConsumer
from shared.bus.producer import EventProducer
from shared.kit.service import _consumer  # the kit's wiring of a Consumes into its consumer
from tests.integration.bus.helpers import run_until

pytestmark = pytest.mark.timeout(120)
N = 200


def traffic_consumer(service: DeployerService) -> EventConsumer:
    [traffic] = [c for c in service.consumes() if c.batch is not None]
    return _consumer(service, traffic)


def caught_up(consumer: EventConsumer) -> bool:
    """Every partition it has read is handled up to the end its last fetch saw."""
    lags = consumer.lag()
    return bool(lags) and not any(lags.values())


def volume(engine: Engine, route: str) -> float:
    with Session(engine) as s:
        got = store.logged_traffic(s, route)
    return got.requests if got is not None else 0.0


async def test_a_batch_folded_but_not_committed_is_counted_once_when_handed_again(
        broker: str, uid: str, db_url: str, tmp_path: Path) -> None:
    engine = store.open_database(db_url)
    service = bootstrap(DeployerSettings(kafka_bootstrap=broker, home=tmp_path, deployer_group=f"deployer-{uid}"),
                        Adapters(engine=engine))
    route = f"route-{uid}"
    try:
        logged = [InferenceLogged(request_id=f"{uid}-{i}", route=route, candidate_id="x", prompt="p", response="r")
                  for i in range(N)]
        async with EventProducer(broker) as p:
            await p.publish_many(new_event(ev, source="gateway") for ev in logged)

        dying = traffic_consumer(service)
        await dying.start()
        commit = dying._consumer.commit  # noqa: SLF001

        async def commit_unless_ours(offsets: Any) -> None:
            """Other tests' traffic on the topic is committed; the first batch with ours is not."""
            if volume(engine, route) > 0:
                raise RuntimeError("killed before the offsets were committed")
            await commit(offsets)

        dying._consumer.commit = commit_unless_ours  # type: ignore[method-assign]  # noqa: SLF001
        with pytest.raises(RuntimeError, match="killed"):
            await dying.run(asyncio.Event())
        await dying.stop()
        assert 0 < volume(engine, route) <= N  # the batch is in the database, its offsets are not

        again = traffic_consumer(service)
        await run_until(again, lambda: volume(engine, route) >= N and caught_up(again), timeout=60)
        assert volume(engine, route) == N  # the batch handed again counted nothing twice
    finally:
        engine.dispose()
