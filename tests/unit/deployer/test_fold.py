"""The fold of live canary traffic into the deployer's database: each logged request and each
feedback counts once in its canary's stored arms, however often and in whichever batches it is
delivered; feedback lands in the arm of the request it is about; the tick drains the arms into
the run in the run's transaction; a deployer rebuilt on the same database (a restart) goes on
from what was folded; traffic logged before a canary began is none of its observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from schemas import Envelope, new_event
from schemas.events.inference import FeedbackReceived, InferenceLogged
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


def fold(engine: Engine, requests: list[tuple[str, lt.Observation]], feedback: list[store.Feedback] = (),
         commit: bool = True) -> int:
    with Session(engine) as s:
        folded = store.fold_batch(s, requests, list(feedback))
        s.commit() if commit else s.rollback()
    return folded


def test_a_request_is_folded_once_however_often_and_in_whichever_batch_it_comes(engine: Engine) -> None:
    assert fold(engine, [("q1", obs("candidate", 1.0)), ("q1", obs("candidate", 1.0)), ("q2", obs("champion"))]) == 2
    assert fold(engine, [("q1", obs("candidate", 1.0)), ("q3", obs("champion"))]) == 1
    assert fold(engine, [("q1", obs("candidate", 1.0))]) == 0
    champion, candidate = stored(engine)
    assert (n(champion), n(candidate)) == (2, 1) and candidate["error_rate"].total == 1.0


def test_a_batch_rolled_back_leaves_no_trace_and_counts_when_delivered_again(engine: Engine) -> None:
    fold(engine, [("q1", obs("candidate")), ("q2", obs("champion"))], commit=False)  # died before the commit
    assert stored(engine) == ({}, {})
    assert fold(engine, [("q1", obs("candidate")), ("q2", obs("champion"))]) == 2
    assert tuple(map(n, stored(engine))) == (1, 1)


def test_feedback_counts_once_in_the_arm_of_its_request_and_not_without_one(engine: Engine) -> None:
    fold(engine, [("q1", obs("champion"))])
    feedback = [("f1", "q1", -1.0), ("f1", "q1", -1.0), ("f2", "q2", -1.0), ("f3", "unknown", -1.0)]
    assert fold(engine, [("q2", obs("candidate"))], feedback) == 3  # q2, then f1 (once) and f2
    assert fold(engine, [], feedback) == 0
    champion, candidate = stored(engine)
    assert n(champion, "negative_feedback_rate") == 1 and n(candidate, "negative_feedback_rate") == 1


def test_taking_the_arms_drains_them_and_an_ended_canary_is_forgotten(engine: Engine) -> None:
    fold(engine, [(f"a{i}", obs("candidate")) for i in range(5)] + [(f"b{i}", obs("champion", canary="cand-2"))
                                                                    for i in range(5)])
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
        assert {r.canary for r in s.exec(select(store.DeployerCanaryEvent))} == {"cand-2"}
        assert n(store.take_arms(s, "cand-2")[0]) == 5
    assert fold(engine, [("a0", obs("candidate"))]) == 1  # the ended canary's keys went with it


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
    feedback = [new_event(FeedbackReceived(request_id=e.data.request_id, route=TASK, score=-1.0), source="gateway")
                for e in logged[-4:]]
    await before.fold_traffic(logged[:25])
    await before.fold_traffic(logged[25:] + feedback[:2])
    del before  # a crash: nothing in memory survives

    after = deployer(engine, tmp_path)
    await after.fold_traffic(logged[20:] + feedback)  # redelivered: the batches whose offsets were not committed
    await after.fold_one(feedback[0])  # one at a time (a failed batch's retry)
    assert after.tick() == 1
    with Session(engine) as s:
        run = store.get_run(s, "cand-1")
    assert run is not None
    champion, candidate = run.arms()
    assert (ca.requests_seen(champion), ca.requests_seen(candidate), n(candidate, "negative_feedback_rate")) == (
        30, 20, 4)
    assert stored(engine) == ({}, {})  # drained into the run


async def test_traffic_logged_before_a_canary_began_is_none_of_its_observations(engine: Engine,
                                                                               tmp_path: Path) -> None:
    early = [new_event(ev, source="gateway") for ev in traffic("cand-1", 5)]  # logged, then the canary begins
    in_canary(engine)
    d = deployer(engine, tmp_path)
    await d.fold_traffic(early + [new_event(ev, source="gateway") for ev in traffic("cand-1", 3, seed=1)])
    assert n(stored(engine)[1]) == 3


def ordinary(n: int, route: str = "other", **kw: object) -> list[Envelope[InferenceLogged]]:
    """`n` logged inferences on `route`, one a second."""
    start = datetime.now(UTC)
    return [new_event(InferenceLogged(request_id=f"r{i}", route=route, candidate_id="x", prompt="p", response="r",
                                      input_tokens=10, output_tokens=2, **kw),  # type: ignore[arg-type]
                      source="gateway").model_copy(update={"time": start + timedelta(seconds=i)}) for i in range(n)]


def test_a_batch_remembers_the_last_ids_folded_and_a_redelivery_is_among_them() -> None:
    fresh, kept = lt.unseen([], ["a", "b", "c"], keep=4)
    assert (fresh, kept) == (["a", "b", "c"], ["a", "b", "c"])
    fresh, kept = lt.unseen(kept, ["b", "c", "d", "e"], keep=4)  # b, c redelivered
    assert (fresh, kept) == (["d", "e"], ["b", "c", "d", "e"])  # the oldest forgotten past `keep`


async def test_a_routes_volume_is_in_the_database_once_its_batch_is_folded(engine: Engine, tmp_path: Path) -> None:
    """No tick: a crash right after the batch loses none of it."""
    d = deployer(engine, tmp_path)
    await d.fold_traffic(ordinary(6) + ordinary(4, route="again", sample_rate=0.5))
    del d
    with Session(engine) as s:
        other, again = store.logged_traffic(s, "other"), store.logged_traffic(s, "again")
    assert other is not None and (other.requests, other.input_tokens, other.output_tokens) == (6, 60, 12)
    assert again is not None and again.requests == 8  # scaled for its sampling
    assert other.last_at is not None and other.first_at == other.last_at - 5


async def test_a_batch_redelivered_after_a_crash_counts_no_volume_twice(engine: Engine, tmp_path: Path) -> None:
    """The consumer commits a batch's offsets before it hands the next: a restart redelivers at
    most the last batch (and what came after), however it is cut into batches this time."""
    logged = ordinary(40)
    before = deployer(engine, tmp_path)
    await before.fold_traffic(logged[:10])
    await before.fold_traffic(logged[10:25])  # folded, its offsets never committed: a crash
    del before
    after = deployer(engine, tmp_path)
    await after.fold_traffic(logged[10:18])  # redelivered, cut otherwise
    await after.fold_traffic(logged[18:30])  # the rest of it and new traffic
    for e in logged[30:35]:  # a failed batch handled one event at a time, then a crash
        await after.fold_one(e)
    del after
    again = deployer(engine, tmp_path)
    await again.fold_traffic(logged[30:40])
    await again.fold_traffic(logged[39:40] * 2)  # an event twice in a batch, and already counted
    volume = again.logged_traffic("other")
    assert volume is not None and volume.requests == 40


async def test_a_volume_rolls_back_with_the_canarys_fold(engine: Engine, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction: a batch whose arms could not be folded counts no volume either (the
    consumer then hands it again, one event at a time)."""
    in_canary(engine)
    d = deployer(engine, tmp_path)
    d.tick()  # watches the canary's route

    def broken(*_: object) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr(store, "fold_batch", broken)
    logged = [new_event(ev, source="gateway") for ev in traffic("cand-1", 5, error_rate=0.0)]
    with pytest.raises(RuntimeError):
        await d.fold_traffic(logged)
    assert d.logged_traffic(TASK) is None
    monkeypatch.undo()
    await d.fold_traffic(logged)
    volume = d.logged_traffic(TASK)
    assert volume is not None and volume.requests == 5 and n(stored(engine)[1]) == 5


async def test_a_routes_volume_counted_before_the_upgrade_is_not_counted_again(engine: Engine,
                                                                              tmp_path: Path) -> None:
    """Migration 0003 notes until when each route's volume was counted (on the tick, before);
    a traffic group reading the topic from its beginning does not count that traffic again."""
    logged = ordinary(10)
    cut = logged[5].time.timestamp()
    with Session(engine) as s:
        s.add(store.DeployerRouteTraffic(route="other", requests=6, input_tokens=60, output_tokens=12,
                                         first_at=logged[0].time.timestamp(), last_at=cut, counted_before=cut))
        s.commit()
    d = deployer(engine, tmp_path)
    await d.fold_traffic(logged)
    volume = d.logged_traffic("other")
    assert volume is not None and volume.requests == 10
