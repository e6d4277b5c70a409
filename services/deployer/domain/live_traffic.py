"""Live canary traffic: which active canary, and which of its arms, a logged inference or a
feedback counts for, and the pure fold of one observation into a canary's arms.

The observations themselves are not kept here: the handler folds each one into the canary's
stored arms (services.deployer.adapters.store) in the transaction that also marks it folded
(its request id, or the feedback's inbox mark), so a crash loses none and a redelivery counts
none twice. The tick drains the stored arms into the run. `CanaryTraffic` only knows which
routes carry an active canary; it is restored from the stored runs when the deployer starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.events.inference import InferenceLogged
from services.deployer.domain import traffic_profile as tp
from services.deployer.domain.canary import Arm, feedback_signal, observe, request_signals

ArmName = Literal["champion", "candidate"]
Arms = tuple[Arm, Arm]  # (champion, candidate)


@dataclass(frozen=True)
class Observation:
    """What one request (or one feedback on it) adds to arm `arm` of the canary of `canary`
    (the canary run's candidate id)."""

    canary: str
    arm: ArmName
    signals: dict[str, float]


@dataclass(frozen=True)
class _Canary:
    champion_id: str
    candidate_id: str
    slo_ms: float


class CanaryTraffic:
    """The active canaries by route: which logged inferences are observations."""

    def __init__(self) -> None:
        self._by_route: dict[str, _Canary] = {}

    def watch(self, route: str, champion_id: str, candidate_id: str, slo_ms: float) -> None:
        self._by_route[route] = _Canary(champion_id, candidate_id, slo_ms)

    def unwatch_except(self, routes: set[str]) -> None:
        for route in set(self._by_route) - routes:
            del self._by_route[route]

    def observation(self, ev: InferenceLogged) -> Observation | None:
        """The observation a logged inference is, or None: no canary on its route, a shadow
        answer, or a target that is neither arm."""
        canary = self._by_route.get(ev.route)
        if canary is None or ev.role != "primary":
            return None
        arm: ArmName | None = ("candidate" if ev.candidate_id == canary.candidate_id
                               else "champion" if ev.candidate_id == canary.champion_id else None)
        if arm is None:
            return None
        return Observation(canary.candidate_id, arm, request_signals(ev, canary.slo_ms))


def feedback(canary: str, arm: ArmName, score: float) -> Observation:
    """Feedback on a request that was an observation of `canary`'s `arm`."""
    return Observation(canary, arm, feedback_signal(score))


def fold(arms: Arms, obs: Observation) -> Arms:
    champion, candidate = arms
    if obs.arm == "champion":
        return observe(champion, obs.signals), candidate
    return champion, observe(candidate, obs.signals)


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
