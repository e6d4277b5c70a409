"""Who may move a candidate where: the pipeline's legality plus the registry's own rules, and
the moves of the task's other candidates that one move carries with it (so the task always
has at most one production candidate, its champion, and at most one standby, its fallback)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.registry.domain.errors import Forbidden
from services.registry.domain.roles import Action, Role, require
from shared.pipeline import COUPLED, OPERATOR_ONLY, IllegalTransition, Stage, check_transition

# Stages a rolled-back champion's successor may come from: its standby (the route's fallback),
# or a canary the gateway fell back to when the champion itself degraded mid-canary.
SUCCESSOR_STAGES = frozenset({Stage.standby, Stage.canary})


def plan_transition(current: str, target: str, *, role: Role | str, approved: bool) -> Stage:
    """Return the target stage or raise IllegalTransition (409) / Forbidden (403) with the reason."""
    to = check_transition(current, target)
    if (Stage(current), to) in COUPLED:
        raise IllegalTransition(f"cannot move from {current} to {to} on its own: {COUPLED[(Stage(current), to)]}")
    require(role, Action.transition)
    if (Stage(current), to) in OPERATOR_ONLY:
        try:
            require(role, Action.operate)
        except Forbidden as exc:
            raise Forbidden(f"moving from {current} to {to} is an operator decision: {exc}") from exc
    if to == Stage.approved and not approved:
        raise Forbidden("moving to approved needs a recorded approval: POST /api/v1/candidates/{id}/approve")
    return to


def becomes_champion(target: Stage | str) -> bool:
    return Stage(target) == Stage.production


@dataclass(frozen=True)
class Peer:
    """A candidate of the same task, as far as its stage goes."""

    id: str
    stage: str


@dataclass(frozen=True)
class Move:
    candidate_id: str
    to_stage: Stage
    reason: str


def plan_moves(candidate: Peer, target: Stage, reason: str, peers: Sequence[Peer],
               successor_id: str | None = None) -> list[Move]:
    """Every move one requested move makes, in the order to apply them: whoever leaves
    production first, so a unique index on (task) WHERE stage='production' never sees two.

    - Promotion: the champion becomes standby (the route's new fallback); the standby it
      replaces as fallback is retired.
    - A production candidate rolled back (a fallback after a degradation, or an operator's
      rollback): its successor (named, else the task's standby) becomes production again.
      Without one the rollback is refused: nothing the record could call serving would remain.
    """
    others = [p for p in peers if p.id != candidate.id]
    if target == Stage.production:
        return _promotion(candidate, reason, others)
    if Stage(candidate.stage) == Stage.production and target == Stage.rolled_back:
        return _succession(candidate, reason, _successor(candidate, others, successor_id))
    if successor_id is not None:
        raise IllegalTransition(f"a successor is named only when a production candidate is rolled back, "
                                f"not for {candidate.stage} -> {target}")
    return [Move(candidate.id, target, reason)]


def _promotion(candidate: Peer, reason: str, others: Sequence[Peer]) -> list[Move]:
    champions = [p for p in others if p.stage == Stage.production]
    moves = []
    if champions:
        fallbacks = ", ".join(c.id for c in champions)
        moves += [Move(p.id, Stage.retired, f"replaced as fallback by {fallbacks} when {candidate.id} was promoted")
                  for p in others if p.stage == Stage.standby]
        moves += [Move(c.id, Stage.standby, f"replaced as champion by {candidate.id}; kept as its fallback")
                  for c in champions]
    return [*moves, Move(candidate.id, Stage.production, reason)]


def _successor(candidate: Peer, others: Sequence[Peer], successor_id: str | None) -> Peer:
    if successor_id is not None:
        named = next((p for p in others if p.id == successor_id), None)
        if named is None or Stage(named.stage) not in SUCCESSOR_STAGES:
            stage = named.stage if named else "not a candidate of this task"
            raise IllegalTransition(f"{successor_id} cannot take over production from {candidate.id}: it is {stage} "
                                    f"(a successor is {' or '.join(sorted(SUCCESSOR_STAGES))})")
        return named
    standbys = [p for p in others if p.stage == Stage.standby]
    if len(standbys) != 1:
        ids = ", ".join(p.id for p in standbys)
        found = f"{len(standbys)} standby candidates ({ids})" if standbys else "no standby"
        raise IllegalTransition(f"cannot roll back {candidate.id}: the task has {found} to take over production; "
                                "promote another candidate instead (its champion then becomes standby)")
    return standbys[0]


def _succession(candidate: Peer, reason: str, successor: Peer) -> list[Move]:
    return [Move(candidate.id, Stage.rolled_back, reason),
            Move(successor.id, Stage.production, f"takes over production from {candidate.id}: {reason}")]
