"""The deployer killed (SIGKILL) after it consumed a canary's live traffic and before its tick,
then started again: the canary's arms hold every request and feedback sent exactly once,
though everything is delivered a second time (what a batch whose offsets were not committed,
or an outbox re-sending, does). The route's traffic volume is in the database before the tick
too (test_volume_redelivery: a batch folded and handed again counts once). Real Tansu broker,
the deployer as its own process, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from challenger.stack.services import service_proc
from schemas import Envelope, new_event
from schemas.events.inference import FeedbackReceived
from schemas.events.models import ModelApproved
from services.deployer.adapters import store
from services.deployer.domain import canary as ca
from services.deployer.domain import driver
from services.deployer.domain.run import Phase, Run
from services.deployer.domain.traffic_profile import counts
from shared.bus.producer import EventProducer
from shared.process import Proc, free_port
from tests.integration.bus.helpers import wait_until
from tests.unit.deployer.factories import env, submitted, traffic

pytestmark = pytest.mark.timeout(180)
CHAMPION, CANDIDATE, FEEDBACK = 40, 30, 12  # requests per arm, negative feedback on the candidate's


def canary_run(uid: str) -> Run:
    """A run in its canary on a route of its own (the session's broker carries other tests' traffic)."""
    run = driver.on_submitted(submitted(f"cand-{uid}"), "corr").run
    run = run.model_copy(update={"phase": Phase.awaiting_approval, "expected": "awaiting_approval",
                                 "task": f"route-{uid}", "champion_id": f"champ-{uid}"})
    return driver.on_approved(run, ModelApproved(candidate_id=run.candidate_id, approver="bob"), env()).run


def counted(engine: Engine, cid: str) -> tuple[int, int, int]:
    """(champion requests, candidate requests, candidate feedback): in the run plus folded since its tick."""
    with Session(engine) as s:
        run = store.get_run(s, cid)
        row = s.get(store.DeployerCanaryArms, cid)
    assert run is not None
    champion, candidate = run.arms()
    if row is not None:
        champion = ca.merge(champion, ca.load_arm(row.champion))
        candidate = ca.merge(candidate, ca.load_arm(row.candidate))
    feedback = candidate.get("negative_feedback_rate")
    return ca.requests_seen(champion), ca.requests_seen(candidate), feedback.n if feedback else 0


def volume(engine: Engine, route: str) -> float:
    """The route's logged traffic the deployer stored (a task's default traffic profile)."""
    with Session(engine) as s:
        got = store.logged_traffic(s, route)
    return got.requests if got is not None else 0.0


@pytest.fixture
def start(broker: str, uid: str, db_url: str, tmp_path: Path) -> Iterator[Any]:
    procs: list[Proc] = []

    def deployer(tick_s: float) -> Proc:
        env_ = {"CHALLENGER_KAFKA_BOOTSTRAP": broker, "DATABASE_URL": db_url, "CHALLENGER_HOME": str(tmp_path),
                "CHALLENGER_DEPLOYER_GROUP": f"deployer-{uid}", "CHALLENGER_DEPLOYER_TICK_S": str(tick_s)}
        proc = service_proc("deployer", tmp_path, free_port(), env_)
        procs.append(proc)
        proc.start()
        proc.wait_healthy()
        return proc

    yield deployer
    for proc in procs:
        proc.stop()


def kill(proc: Proc) -> None:
    assert proc.popen is not None
    os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait(10)


async def test_a_deployer_killed_before_its_tick_loses_no_observation_and_counts_none_twice(
        broker: str, uid: str, db_url: str, start: Any) -> None:
    run = canary_run(uid)
    route, cid = run.task, run.candidate_id
    engine = store.open_database(db_url)
    with Session(engine) as s:
        store.put_run(s, run)
        s.commit()
    try:
        first = start(tick_s=3600)  # ticks once as it starts, then not again before the kill
        logged = traffic(f"champ-{uid}", CHAMPION, route=route) + traffic(cid, CANDIDATE, route=route, seed=1)
        sent: list[Envelope[Any]] = [new_event(ev, source="gateway") for ev in logged]  # logged in the canary
        sent += [new_event(FeedbackReceived(request_id=ev.request_id, route=route, score=-1.0), source="gateway")
                 for ev in logged[CHAMPION:CHAMPION + FEEDBACK]]
        async with EventProducer(broker) as p:
            await p.publish_many(sent)
            ordinary = sum(1 for ev in logged if counts(ev))  # the route's volume: not the failed requests
            await wait_until(lambda: counted(engine, cid) == (CHAMPION, CANDIDATE, FEEDBACK)
                             and volume(engine, route) == ordinary, 60, "the deployer to fold every event")
            kill(first)
            assert counted(engine, cid) == (CHAMPION, CANDIDATE, FEEDBACK)  # in the database, not in a process
            assert volume(engine, route) == ordinary  # no tick since the traffic: the volume is stored all the same

            await p.publish_many(sent)  # everything again, with its ids
            more = traffic(cid, 5, route=route, seed=2)
            await p.publish_many(new_event(ev, source="gateway") for ev in more)  # after the duplicates
            start(tick_s=0.2)
            expected = (CHAMPION, CANDIDATE + len(more), FEEDBACK)

            def ticked() -> bool:
                with Session(engine) as s:
                    got = store.get_run(s, cid)
                assert got is not None
                return ca.requests_seen(got.arms()[1]) >= expected[1]

            await wait_until(ticked, 60, "the restarted deployer to tick the new traffic into the run")
        assert counted(engine, cid) == expected
    finally:
        engine.dispose()
