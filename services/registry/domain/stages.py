"""Who may move a candidate where: the pipeline's legality plus the registry's own rules."""

from __future__ import annotations

from services.registry.domain.errors import Forbidden
from services.registry.domain.roles import Action, Role, require
from shared.pipeline import OPERATOR_ONLY, Stage, check_transition


def plan_transition(current: str, target: str, *, role: Role | str, approved: bool) -> Stage:
    """Return the target stage or raise IllegalTransition (409) / Forbidden (403) with the reason."""
    to = check_transition(current, target)
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
