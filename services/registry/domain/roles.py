"""Who may do what. Roles are flat: each lists its actions; admin may do everything."""

from __future__ import annotations

from enum import StrEnum

from services.registry.domain.errors import Forbidden


class Role(StrEnum):
    submitter = "submitter"
    approver = "approver"
    operator = "operator"
    admin = "admin"


class Action(StrEnum):
    submit = "submit"            # candidates, datasets, prompt versions, feedback
    transition = "transition"    # request a stage move (operator-only moves checked separately)
    approve = "approve"
    manage_tasks = "manage_tasks"
    operate = "operate"          # operator-only stage moves, retire, set champion
    manage_tokens = "manage_tokens"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.submitter: frozenset({Action.submit, Action.transition}),
    Role.approver: frozenset({Action.approve, Action.transition}),
    Role.operator: frozenset({Action.submit, Action.transition, Action.manage_tasks, Action.operate}),
    Role.admin: frozenset(Action),
}


def require(role: Role | str, action: Action) -> None:
    if Action(action) not in PERMISSIONS[Role(role)]:
        allowed = sorted(r.value for r, acts in PERMISSIONS.items() if action in acts)
        raise Forbidden(f"role {role!s} may not {action.value}; needs one of: {', '.join(allowed)}")


def check_approver(role: Role | str, approver: str, submitted_by: str, root_submitted_by: str | None = None) -> None:
    """Four-eyes rule: an approver role, and never the candidate's own submitter nor the person
    who submitted the root of its lineage (a derived candidate is submitted by a service, such as
    the prompt optimizer, on behalf of that person)."""
    require(role, Action.approve)
    if approver == submitted_by:
        raise Forbidden(f"{approver} submitted this candidate and so cannot approve it; ask another approver")
    if approver == root_submitted_by:
        raise Forbidden(f"{approver} submitted the candidate this one derives from (it was submitted by "
                        f"{submitted_by}) and so cannot approve it; ask another approver")
