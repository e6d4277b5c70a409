"""Live canary traffic, accumulated in memory between ticks.

Logged inferences are high volume, so they are not written per event: each active canary
collects per-arm deltas here and the periodic tick folds them into the persisted run.
Duplicates (a redelivered batch) are dropped by request id within a bounded window.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from schemas.events.inference import FeedbackReceived, InferenceLogged
from services.deployer.domain import traffic_profile as tp
from services.deployer.domain.canary import Arm, feedback_signal, observe, request_signals


@dataclass
class _Canary:
    champion_id: str
    candidate_id: str
    slo_ms: float
    champion: Arm = field(default_factory=dict)
    candidate: Arm = field(default_factory=dict)


class CanaryTraffic:
    def __init__(self, window: int = 200_000) -> None:
        self._by_route: dict[str, _Canary] = {}
        self._seen: OrderedDict[str, tuple[str, str]] = OrderedDict()  # request id -> (route, candidate id)
        self._window = window
        self.dropped_duplicates = 0

    def watch(self, route: str, champion_id: str, candidate_id: str, slo_ms: float) -> None:
        current = self._by_route.get(route)
        if current is None or current.candidate_id != candidate_id:
            self._by_route[route] = _Canary(champion_id, candidate_id, slo_ms)

    def unwatch_except(self, routes: set[str]) -> None:
        for route in set(self._by_route) - routes:
            del self._by_route[route]

    def on_inference(self, ev: InferenceLogged) -> None:
        canary = self._by_route.get(ev.route)
        if canary is None or ev.role != "primary" or ev.request_id in self._seen:
            self.dropped_duplicates += ev.request_id in self._seen
            return
        self._remember(ev.request_id, ev.route, ev.candidate_id)
        self._add(canary, ev.candidate_id, request_signals(ev, canary.slo_ms))

    def on_feedback(self, ev: FeedbackReceived) -> None:
        route, candidate_id = self._seen.get(ev.request_id, (ev.route, ""))
        canary = self._by_route.get(route)
        if canary is not None and candidate_id:
            self._add(canary, candidate_id, feedback_signal(ev.score))

    def drain(self, route: str) -> tuple[Arm, Arm]:
        """The (champion, candidate) observations since the last drain."""
        canary = self._by_route.get(route)
        if canary is None:
            return {}, {}
        out = (canary.champion, canary.candidate)
        canary.champion, canary.candidate = {}, {}
        return out

    def _add(self, canary: _Canary, candidate_id: str, signals: dict[str, float]) -> None:
        if candidate_id == canary.candidate_id:
            canary.candidate = observe(canary.candidate, signals)
        elif candidate_id == canary.champion_id:
            canary.champion = observe(canary.champion, signals)

    def _remember(self, request_id: str, route: str, candidate_id: str) -> None:
        self._seen[request_id] = (route, candidate_id)
        while len(self._seen) > self._window:
            self._seen.popitem(last=False)


class RouteVolumes:
    """Every route's ordinary logged traffic since the last drain (folded into the store on the
    tick), for the tasks' default traffic profiles."""

    def __init__(self) -> None:
        self._by_route: dict[str, tp.LoggedTraffic] = {}

    def on_inference(self, ev: InferenceLogged, at: float) -> None:
        if tp.counts(ev):
            self._by_route[ev.route] = tp.add(self._by_route.get(ev.route, tp.LoggedTraffic()), ev, at)

    def pending(self, route: str) -> tp.LoggedTraffic | None:
        return self._by_route.get(route)

    def drain(self) -> dict[str, tp.LoggedTraffic]:
        out, self._by_route = self._by_route, {}
        return out
