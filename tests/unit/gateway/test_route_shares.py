"""The canary arms panel: each live route's targets export their configured share of traffic,
and a target a new table drops stops being exported."""

from prometheus_client import REGISTRY

from schemas.events.deployments import RouteTable, RouteTarget
from services.gateway.adapters.route_store import RouteStore


def share(route: str, target: str) -> float | None:
    return REGISTRY.get_sample_value("gateway_route_target_share", {"route": route, "target": target})


def table(route: str, **weights: float) -> RouteTable:
    return RouteTable(route=route, targets=[RouteTarget(candidate_id=c, url=f"http://{c}", model="m", weight=w)
                                            for c, w in weights.items()])


def test_each_targets_share_follows_the_live_table() -> None:
    store = RouteStore()
    store.apply(table("arms", champ=9, cand=1), 1)
    assert share("arms", "champ") == 0.9 and share("arms", "cand") == 0.1
    store.apply(table("arms", champ=1, cand=1), 2)
    assert share("arms", "champ") == 0.5 and share("arms", "cand") == 0.5
    store.apply(table("arms", cand=1), 3)  # promoted: the champion's arm is gone
    assert share("arms", "cand") == 1.0 and share("arms", "champ") is None
    store.apply(table("arms", champ=1), 2)  # an older revision changes nothing
    assert share("arms", "cand") == 1.0
