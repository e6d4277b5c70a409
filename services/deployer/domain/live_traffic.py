"""Live canary traffic: which active canary, and which of its arms, a logged inference or a
feedback counts for, and the pure fold of one observation into a canary's arms; and which
of a batch's logged inferences a redelivery had folded into the routes' volumes before.

The observations themselves are not kept here: the handler folds each fetched batch into the
canaries' stored arms (services.deployer.adapters.store) in one transaction with the keys of
what it folded (a logged request's id, a feedback's event id), before the batch's offsets are
committed, so a crash loses none and a redelivery counts none twice. The tick drains the
stored arms into the run. The routes' volumes are folded in the same transaction (see
`unseen` for how a redelivered batch counts none twice). `CanaryTraffic` only knows which
routes carry an active canary and since when (traffic logged before a canary began is no
observation of it); it is restored from the store when the deployer starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from schemas.events.inference import InferenceLogged
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


def unseen(remembered: Sequence[str], ids: Sequence[str], keep: int) -> tuple[list[str], list[str]]:
    """Which of a batch's (distinct) event `ids` were not folded before, and the ids to
    remember next.

    `remembered`: the last `keep` ids folded from the same partition, oldest first. The
    consumer hands a partition's records in order and commits a batch's offsets before it
    hands the next, so what a restart redelivers (folded, offsets not committed) is at most one
    batch: with `keep` at least the consumer's largest batch, every redelivered id is among
    the remembered ones."""
    before = set(remembered)
    fresh = [i for i in ids if i not in before]
    merged = list(dict.fromkeys([*remembered, *ids]))
    return fresh, merged[-keep:]
