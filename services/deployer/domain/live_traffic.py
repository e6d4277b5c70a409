"""Live canary traffic: which active canary, and which of its arms, a logged inference or a
feedback counts for, and the pure fold of one observation into a canary's arms.

The observations themselves are not kept here: the handler folds each fetched batch into the
canaries' stored arms (services.deployer.adapters.store) in one transaction with the keys of
what it folded (a logged request's id, a feedback's event id), before the batch's offsets are
committed, so a crash loses none and a redelivery counts none twice. The tick drains the
stored arms into the run. `CanaryTraffic` only knows which routes carry an active canary and
since when (traffic logged before a canary began is no observation of it); it is restored
from the store when the deployer starts.
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
    since: float  # epoch seconds: when the canary began to collect


class CanaryTraffic:
    """The active canaries by route: which logged inferences are observations."""

    def __init__(self) -> None:
        self._by_route: dict[str, _Canary] = {}

    def watch(self, route: str, champion_id: str, candidate_id: str, slo_ms: float, since: float = 0.0) -> None:
        self._by_route[route] = _Canary(champion_id, candidate_id, slo_ms, since)

    @property
    def active(self) -> bool:
        """Whether any canary is watched (else no traffic is an observation)."""
        return bool(self._by_route)

    def unwatch_except(self, routes: set[str]) -> None:
        for route in set(self._by_route) - routes:
            del self._by_route[route]

    def observation(self, ev: InferenceLogged, at: float) -> Observation | None:
        """The observation a logged inference (logged at `at`, epoch seconds) is, or None: no
        canary on its route, logged before the canary began, a shadow answer, or a target that
        is neither arm."""
        canary = self._by_route.get(ev.route)
        if canary is None or ev.role != "primary" or at < canary.since:
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
    tick), for the tasks' default traffic profiles. `resume_after`: per route, the last time
    the store has counted; traffic logged before it is not counted again (a consumer group
    reading the topic from its beginning)."""

    def __init__(self) -> None:
        self._by_route: dict[str, tp.LoggedTraffic] = {}
        self._counted_until: dict[str, float] = {}

    def resume_after(self, counted_until: dict[str, float]) -> None:
        self._counted_until = dict(counted_until)

    def on_inference(self, ev: InferenceLogged, at: float) -> None:
        if tp.counts(ev) and at > self._counted_until.get(ev.route, float("-inf")):
            self._by_route[ev.route] = tp.add(self._by_route.get(ev.route, tp.LoggedTraffic()), ev, at)

    def pending(self, route: str) -> tp.LoggedTraffic | None:
        return self._by_route.get(route)

    def drain(self) -> dict[str, tp.LoggedTraffic]:
        out, self._by_route = self._by_route, {}
        return out
