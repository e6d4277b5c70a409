import random
from collections import Counter

from scipy.stats import chisquare

from schemas.events.deployments import RouteTable, RouteTarget
from services.gateway.domain.routing import attempt_order, compile_route, pick_target


def _target(cid: str, weight: float) -> RouteTarget:
    return RouteTarget(candidate_id=cid, url=f"http://{cid}", model=cid, weight=weight)


def _route(*weights: float, fallbacks: tuple[str, ...] = ()):
    targets = [_target(f"c{i}", w) for i, w in enumerate(weights)]
    table = RouteTable(route="r", targets=targets, fallbacks=[_target(f, 1) for f in fallbacks])
    return compile_route(table, 1)


def test_weighted_split_matches_weights_chi_squared():
    route = _route(0.7, 0.2, 0.1)
    rng = random.Random(7)
    n = 10_000
    counts = Counter(pick_target(route, rng=rng).candidate_id for _ in range(n))
    observed = [counts[c] for c in ("c0", "c1", "c2")]
    _, p = chisquare(observed, [0.7 * n, 0.2 * n, 0.1 * n])
    assert p > 0.001, observed


def test_sticky_split_over_users_matches_weights():
    route = _route(0.95, 0.05)
    n = 10_000
    counts = Counter(pick_target(route, f"user-{i}").candidate_id for i in range(n))
    _, p = chisquare([counts["c0"], counts["c1"]], [0.95 * n, 0.05 * n])
    assert p > 0.001, counts


def test_a_skewed_split_is_detected():
    route = _route(0.5, 0.5)
    skewed = [6000, 4000]
    assert chisquare(skewed, [5000, 5000]).pvalue < 1e-6  # the test above can fail
    rng = random.Random(1)
    counts = Counter(pick_target(route, rng=rng).candidate_id for _ in range(10_000))
    assert chisquare([counts["c0"], counts["c1"]], [5000, 5000]).pvalue > 0.001


def test_sticky_user_always_gets_the_same_target():
    route = _route(0.5, 0.5)
    for user in ("alice", "bob", "carol", "dave"):
        assert len({pick_target(route, user).candidate_id for _ in range(50)}) == 1


def test_raising_the_canary_weight_only_moves_users_toward_the_canary():
    before, after = _route(0.95, 0.05), _route(0.75, 0.25)
    users = [f"u{i}" for i in range(2000)]
    for user in users:
        if pick_target(before, user).candidate_id == "c1":
            assert pick_target(after, user).candidate_id == "c1"


def test_zero_weights_pick_the_first_target():
    assert pick_target(_route(0, 0)).candidate_id == "c0"


def test_attempt_order_is_chosen_then_fallbacks_then_other_targets():
    route = _route(0.2, 0.8, fallbacks=("fb",))
    chosen = route.table.targets[0]
    assert [t.candidate_id for t in attempt_order(route, chosen)] == ["c0", "fb", "c1"]


def test_route_without_targets_is_rejected():
    import pytest

    with pytest.raises(ValueError, match="no targets"):
        compile_route(RouteTable(route="empty"), 1)
