"""The consistency check, pure: the record and the gateways' route tables in, mismatches in words out."""

from __future__ import annotations

from schemas.events.deployments import RouteTable, RouteTarget
from services.registry.domain.consistency import CandidateView, GatewayView, TaskView, check

GW = "http://gw-1"


def _target(cid: str, weight: float = 1.0) -> RouteTarget:
    return RouteTarget(candidate_id=cid, url=f"http://{cid}", model=cid, weight=weight)


def _route(targets: list[RouteTarget], fallbacks: tuple[str, ...] = (), route: str = "sentiment") -> RouteTable:
    return RouteTable(route=route, targets=targets, fallbacks=[_target(f) for f in fallbacks])


def _candidates(**stages: str) -> list[CandidateView]:
    return [CandidateView(cid, "sentiment", stage) for cid, stage in stages.items()]


def _problems(champion: str | None, stages: dict[str, str], *routes: RouteTable) -> list[str]:
    report = check([TaskView("sentiment", champion)], _candidates(**stages), [GatewayView(GW, list(routes))])
    assert report.ok == (not report.problems)
    return [p.message for p in report.problems]


# ---- what today's main left behind: the check must fail on it ------------------------------

def test_after_a_promotion_on_old_main_two_production_candidates_are_found() -> None:
    # main never moved the old champion: both production, the route falls back to the old one
    problems = _problems("new", {"old": "production", "new": "production"},
                         _route([_target("new")], fallbacks=("old",)))

    assert problems == [
        "task sentiment has 2 production candidates (old, new); at most one, its champion, may be production",
        "old is production but task sentiment's champion is new",
        "route sentiment falls back to old, which is production (task sentiment), not the task's standby",
    ]


def test_after_a_fallback_on_old_main_the_degraded_champion_is_found() -> None:
    # the gateway serves the fallback; the registry still calls the degraded candidate its champion
    problems = _problems("new", {"old": "production", "new": "production"}, _route([_target("old")]))

    assert "route sentiment sends traffic to old, which is production (task sentiment); the champion is new" \
        in problems
    assert "task sentiment's champion new gets no traffic on route sentiment (it sends traffic to old)" in problems


# ---- the states the pipeline now leaves: clean ---------------------------------------------

def test_after_a_promotion_the_champion_serves_and_the_standby_is_its_fallback() -> None:
    assert _problems("new", {"old": "standby", "new": "production"},
                     _route([_target("new")], fallbacks=("old",))) == []


def test_a_canary_in_progress_is_a_note_not_a_problem() -> None:
    report = check([TaskView("sentiment", "champ")], _candidates(champ="production", can="canary"),
                   [GatewayView(GW, [_route([_target("champ", 75), _target("can", 25)], fallbacks=("champ",))])])

    assert report.ok
    assert [n.message for n in report.notes] == ["canary in progress on route sentiment: can at weight 25 of 100"]


def test_after_a_fallback_the_fallback_is_production_and_champion() -> None:
    assert _problems("old", {"old": "production", "new": "rolled_back"}, _route([_target("old")])) == []


# ---- each mismatch, in words ---------------------------------------------------------------

def test_a_gateway_serving_an_ended_candidate() -> None:
    assert _problems("a", {"a": "production", "b": "rolled_back"}, _route([_target("b")]))[0] == \
        "route sentiment sends traffic to b, which is rolled_back (task sentiment); the champion is a"


def test_a_champion_that_is_not_production() -> None:
    assert _problems("a", {"a": "retired"}) == ["task sentiment's champion a is retired, not production"]


def test_a_standby_that_is_no_fallback() -> None:
    assert _problems("a", {"a": "production", "s": "standby"}, _route([_target("a")])) == [
        "s is standby (the fallback target) but route sentiment does not fall back to it (its fallbacks: none)"]


def test_a_fallback_to_a_retired_candidate_and_an_unknown_target() -> None:
    problems = _problems("a", {"a": "production", "r": "retired"}, _route([_target("a"), _target("ghost")],
                                                                           fallbacks=("r",)))
    assert problems == [
        "route sentiment sends traffic to ghost, which is not a candidate the registry knows; the champion is a",
        "route sentiment falls back to r, which is retired (task sentiment), not the task's standby",
    ]


def test_an_unreadable_gateway_is_a_problem_and_no_gateway_a_note() -> None:
    tasks, candidates = [TaskView("sentiment", "a")], _candidates(a="production")
    down = check(tasks, candidates, [GatewayView(GW, error="connection refused")])
    alone = check(tasks, candidates, [])

    assert [p.message for p in down.problems] == [f"gateway {GW} could not be read: connection refused"]
    assert alone.ok and "no gateway is configured" in alone.notes[0].message


def test_every_gateway_is_compared() -> None:
    stale = GatewayView("http://gw-2", [_route([_target("old")], fallbacks=())])
    report = check([TaskView("sentiment", "new")], _candidates(old="standby", new="production"),
                   [GatewayView(GW, [_route([_target("new")], fallbacks=("old",))]), stale])

    assert {p.gateway for p in report.problems} == {"http://gw-2"}


def test_staging_leftovers_and_foreign_routes_are_notes() -> None:
    report = check([TaskView("sentiment", "a")], _candidates(a="production", s="rejected"),
                   [GatewayView(GW, [_route([_target("a")]), _route([_target("s")], route="sentiment-staging"),
                                     _route([_target("x")], route="elsewhere")])])

    assert report.ok
    assert [n.message for n in report.notes] == [
        "staging route sentiment-staging still points at s, which is rejected (task sentiment)",
        "route elsewhere belongs to no task"]
