"""The fold of live canary traffic into the deployer's database: each logged request counts
once (by request id) in its canary's stored arm, feedback lands in the arm of the request it
is about, the tick drains the arms into the run in the run's transaction, and a deployer
rebuilt on the same database (a restart) goes on from what was folded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from schemas import new_event
from schemas.events.inference import FeedbackReceived
from schemas.events.models import ModelApproved
from services.deployer.adapters import store
from services.deployer.bootstrap import Adapters, bootstrap
from services.deployer.config import DeployerSettings
from services.deployer.domain import canary as ca
from services.deployer.domain import driver
from services.deployer.domain import live_traffic as lt
from services.deployer.domain.run import Phase, Run
from services.deployer.handlers import Deployer
from tests.unit.deployer.factories import TASK, env, submitted, traffic


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return store.open_database(f"sqlite:///{tmp_path / 'deployer.db'}")


def obs(arm: lt.ArmName, errors: float = 0.0, canary: str = "cand-1") -> lt.Observation:
    return lt.Observation(canary, arm, {"error_rate": errors})


def stored(engine: Engine, canary: str = "cand-1") -> lt.Arms:
    with Session(engine) as s:
        row = s.get(store.DeployerCanaryArms, canary)
        return (ca.load_arm(row.champion), ca.load_arm(row.candidate)) if row else ({}, {})


def n(arm: ca.Arm, metric: str = "error_rate") -> int:
    return arm[metric].n if metric in arm else 0


def test_a_request_is_folded_once_however_often_it_is_delivered(engine: Engine) -> None:
    for _ in range(3):
        with Session(engine) as s:
            first = store.fold_request(s, "q1", obs("candidate", 1.0))
            s.commit()
    assert not first
    with Session(engine) as s:
        assert store.fold_request(s, "q2", obs("champion"))
        s.commit()
    champion, candidate = stored(engine)
    assert (n(champion), n(candidate)) == (1, 1) and candidate["error_rate"].total == 1.0


def test_a_fold_rolled_back_leaves_no_trace_and_counts_when_delivered_again(engine: Engine) -> None:
    with Session(engine) as s:
        store.fold_request(s, "q1", obs("candidate"))
        s.rollback()  # the deployer died before the commit
    assert stored(engine) == ({}, {})
    with Session(engine) as s:
        assert store.fold_request(s, "q1", obs("candidate"))
        s.commit()
    assert n(stored(engine)[1]) == 1


def test_feedback_finds_the_arm_of_its_request(engine: Engine) -> None:
    with Session(engine) as s:
        store.fold_request(s, "q1", obs("champion"))
        s.commit()
    with Session(engine) as s:
        served = store.served(s, "q1")
        assert served == ("cand-1", "champion") and store.served(s, "unknown") is None
        store.fold_observation(s, lt.feedback(*served, -1.0))
        s.commit()
    champion, candidate = stored(engine)
    assert n(champion, "negative_feedback_rate") == 1 and champion["negative_feedback_rate"].total == 1.0
    assert candidate == {}


def test_taking_the_arms_drains_them_and_an_ended_canary_is_forgotten(engine: Engine) -> None:
    with Session(engine) as s:
        for i in range(5):
            store.fold_request(s, f"a{i}", obs("candidate"))
            store.fold_request(s, f"b{i}", obs("champion", canary="cand-2"))
        s.commit()
    with Session(engine) as s:
        champion, candidate = store.take_arms(s, "cand-1")
        s.rollback()  # a tick that failed: nothing was taken
    with Session(engine) as s:
        assert (n(champion), n(candidate)) == (0, 5) and n(store.take_arms(s, "cand-1")[1]) == 5
        s.commit()
    assert stored(engine) == ({}, {})
    with Session(engine) as s:
        store.forget_canaries_except(s, {"cand-2"})
        s.commit()
    with Session(engine) as s:
        assert {r.canary for r in s.exec(select(store.DeployerCanaryRequest))} == {"cand-2"}
        assert store.served(s, "a0") is None and n(store.take_arms(s, "cand-2")[0]) == 5


# ---- through the handlers --------------------------------------------------------------

def deployer(engine: Engine, home: Path) -> Deployer:
    service = bootstrap(DeployerSettings(home=home), Adapters(engine=engine))
    service.deployer.env = env()
    service.deployer.restore()  # what the kit's start does
    return service.deployer


def in_canary(engine: Engine) -> Run:
    run = driver.on_submitted(submitted(), "corr").run
    run = run.model_copy(update={"phase": Phase.awaiting_approval, "expected": "awaiting_approval"})
    run = driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), env()).run
    with Session(engine) as s:
        store.put_run(s, run)
        s.commit()
    return run


async def test_a_restart_between_ticks_loses_no_observation_and_counts_none_twice(engine: Engine,
                                                                                   tmp_path: Path) -> None:
    in_canary(engine)
    before = deployer(engine, tmp_path)
    logged = [new_event(ev, source="gateway") for ev in traffic("champ-1", 30) + traffic("cand-1", 20, seed=1)]
    for e in logged:
        await before.inference(e)
    del before  # a crash: nothing in memory survives

    after = deployer(engine, tmp_path)
    for e in logged[:10] + logged[-10:]:  # redelivered: the batch whose offsets were not committed
        await after.inference(e)
    assert after.tick() == 1
    with Session(engine) as s:
        run = store.get_run(s, "cand-1")
    assert run is not None
    champion, candidate = run.arms()
    assert (ca.requests_seen(champion), ca.requests_seen(candidate)) == (30, 20)
    assert stored(engine) == ({}, {})  # drained into the run
    await after.feedback(new_event(FeedbackReceived(request_id=logged[-1].data.request_id, route=TASK, score=-1.0),
                                   source="gateway"))
    assert n(stored(engine)[1], "negative_feedback_rate") == 1
