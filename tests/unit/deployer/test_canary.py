"""Canary analysis fed with synthetic live traffic: rollback on injected errors, waiting on
too little traffic, stepping through to promotion on equal arms, gradual rollback."""

from __future__ import annotations

from schemas.events.deployments import CanaryStepChanged, RouteTable
from schemas.events.inference import InferenceLogged
from schemas.events.models import ModelApproved, StageChangeRequested
from services.deployer.domain import canary as ca
from services.deployer.domain import driver
from services.deployer.domain import live_traffic as lt
from services.deployer.domain.live_traffic import CanaryTraffic
from services.deployer.domain.policy import Policy
from services.deployer.domain.run import Phase, Run
from tests.unit.deployer.factories import TASK, env, submitted, traffic

POLICY = Policy.model_validate({"defaults": {"canary": {"min_samples": 100, "min_samples_per_step": 100,
                                                        "margins": {"error_rate": 0.05, "latency_ms": 100.0}}}})
ENV = env(POLICY)


def canary_run(policy_env: driver.Env = ENV) -> Run:
    run = driver.on_submitted(submitted(), "corr").run
    run = run.model_copy(update={"phase": Phase.awaiting_approval, "expected": "awaiting_approval"})
    return driver.on_approved(run, ModelApproved(candidate_id="cand-1", approver="bob"), policy_env).run


def watching() -> CanaryTraffic:
    book = CanaryTraffic()
    book.watch(TASK, "champ-1", "cand-1", slo_ms=2000)
    return book


def folded(book: CanaryTraffic, events: list[InferenceLogged]) -> lt.Arms:
    arms: lt.Arms = ({}, {})
    for ev in events:
        if (obs := book.observation(ev, 0.0)) is not None:
            arms = lt.fold(arms, obs)
    return arms


def feed(run: Run, n: int, *, cand_errors: float = 0.01, cand_latency: float = 300.0, seed: int = 0) -> Run:
    champion, candidate = folded(watching(), traffic("champ-1", n, seed=seed) + traffic(
        "cand-1", n, error_rate=cand_errors, latency_ms=cand_latency, seed=seed + 1))
    old_champion, old_candidate = run.arms()
    return run.with_arms(ca.merge(old_champion, champion), ca.merge(old_candidate, candidate))


def decisions(res: driver.Result) -> list[str]:
    return [o.decision for o in res.out if isinstance(o, CanaryStepChanged)]


def requested(res: driver.Result) -> list[str]:
    return [o.to_stage for o in res.out if isinstance(o, StageChangeRequested)]


def test_injected_errors_roll_back_to_the_champion():
    res = driver.canary_tick(feed(canary_run(), 300, cand_errors=0.2), ENV)
    assert decisions(res) == ["rollback"]
    [step] = [o for o in res.out if isinstance(o, CanaryStepChanged)]
    assert step.analysis["error_rate.low"] > 0 and "error_rate" in step.reason
    [table] = [o for o in res.out if isinstance(o, RouteTable)]
    assert [t.candidate_id for t in table.targets] == ["champ-1"]
    assert requested(res) == ["rolled_back"] and res.run.phase == Phase.done


def test_too_little_traffic_is_inconclusive_waits_and_never_promotes():
    run = feed(canary_run(), 30)
    res = driver.canary_tick(run, ENV)
    assert decisions(res) == ["inconclusive"] and "too little traffic" in res.run.last_analysis
    assert requested(res) == [] and res.run.canary_step == 0
    again = driver.canary_tick(res.run, ENV)
    assert again.out == []  # same decision at the same step: not republished


def test_equal_arms_step_through_every_weight_then_promote():
    run, weights = canary_run(), []
    for i in range(3):
        res = driver.canary_tick(feed(run, 300, seed=10 * i), ENV)
        run = res.run
        weights += [t.weight for o in res.out if isinstance(o, RouteTable) for t in o.targets
                    if t.candidate_id == "cand-1"]
    assert weights == [25.0, 50.0, 1.0]
    assert decisions(res) == ["promote"] and requested(res) == ["production"]
    [table] = [o for o in res.out if isinstance(o, RouteTable)]
    assert [t.candidate_id for t in table.targets] == ["cand-1"] and table.fallbacks[0].candidate_id == "champ-1"


def test_a_step_needs_its_own_traffic_before_advancing():
    run = driver.canary_tick(feed(canary_run(), 300), ENV).run
    assert run.canary_step == 1
    res = driver.canary_tick(feed(run, 20, seed=5), ENV)
    assert decisions(res) == ["inconclusive"] and res.run.canary_step == 1


def test_slower_candidate_rolls_back_gradually_when_configured():
    policy = Policy.model_validate({"defaults": {"canary": {"gradual_rollback": True, "margins": {"latency_ms": 50}}}})
    e = env(policy)
    run = canary_run(e).model_copy(update={"canary_step": 2})
    res = driver.canary_tick(feed(run, 300, cand_latency=600.0), e)
    assert decisions(res) == ["rollback"] and "latency_ms" in res.run.last_analysis
    seen = [t.weight for o in res.out if isinstance(o, RouteTable) for t in o.targets if t.candidate_id == "cand-1"]
    assert seen == [25.0] and res.run.phase == Phase.rolling_back and requested(res) == []
    res = driver.canary_tick(res.run, e)
    assert [t.weight for o in res.out if isinstance(o, RouteTable) for t in o.targets
            if t.candidate_id == "cand-1"] == [5.0]
    res = driver.canary_tick(res.run, e)
    [table] = [o for o in res.out if isinstance(o, RouteTable)]
    assert [t.candidate_id for t in table.targets] == ["champ-1"] and requested(res) == ["rolled_back"]


def test_negative_feedback_counts_once_it_has_enough_samples():
    book, arms = watching(), ({}, {})
    for ev in traffic("champ-1", 300) + traffic("cand-1", 300, seed=1):
        obs = book.observation(ev, 0.0)
        assert obs is not None
        score = -1.0 if ev.candidate_id == "cand-1" and int(ev.request_id.rsplit("-", 1)[1]) % 3 == 0 else 1.0
        arms = lt.fold(lt.fold(arms, obs), lt.feedback(obs.canary, obs.arm, score))
    champion, candidate = arms
    analysis = ca.analyse_step(champion, candidate, rule=POLICY.for_task(TASK).canary, step=0, step_start_n=0)
    assert analysis.decision == "rollback" and "negative_feedback_rate" in analysis.reason


def test_shadow_answers_other_targets_and_other_routes_are_no_observation():
    book = watching()
    evs = traffic("cand-1", 10)
    shadows = [e.model_copy(update={"role": "shadow", "request_id": e.request_id + "s"}) for e in evs]
    elsewhere = traffic("cand-1", 3, route="other") + traffic("third", 3)
    assert all(book.observation(e, 0.0) is None for e in shadows + elsewhere)
    _, candidate = folded(book, evs + shadows + elsewhere)
    assert ca.requests_seen(candidate) == 10
    book.watch(TASK, "champ-1", "cand-1", slo_ms=2000, since=10.0)
    assert book.observation(evs[0], 9.9) is None and book.observation(evs[0], 10.0) is not None  # logged before
    book.unwatch_except(set())
    assert book.observation(evs[0], 10.0) is None


def test_a_candidate_slower_within_the_margin_advances_and_one_slower_beyond_it_rolls_back():
    """The margin is the degradation the policy accepts: +40 ms, clearly significant on 300
    requests per arm (sd 30 ms), is within a 100 ms margin; +300 ms is not."""
    within = driver.canary_tick(feed(canary_run(), 300, cand_latency=340.0), ENV)
    [step] = [o for o in within.out if isinstance(o, CanaryStepChanged)]
    assert step.analysis["latency_ms.low"] > 0  # significantly slower...
    assert decisions(within) == ["advance"]  # ...but shown within the margin
    beyond = driver.canary_tick(feed(canary_run(), 300, cand_latency=600.0), ENV)
    assert decisions(beyond) == ["rollback"] and "latency_ms" in beyond.run.last_analysis
