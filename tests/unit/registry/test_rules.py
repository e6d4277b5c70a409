"""Roles, the four-eyes rule, stage moves and tokens: pure rules."""

from __future__ import annotations

import pytest

from services.registry.domain.errors import Forbidden
from services.registry.domain.roles import Action, Role, check_approver, require
from services.registry.domain.stages import becomes_champion, plan_transition
from services.registry.domain.tokens import bearer, hash_token, new_token
from shared.pipeline import IllegalTransition


@pytest.mark.parametrize(("role", "action", "allowed"), [
    (Role.submitter, Action.submit, True),
    (Role.submitter, Action.approve, False),
    (Role.approver, Action.approve, True),
    (Role.approver, Action.submit, False),
    (Role.operator, Action.operate, True),
    (Role.operator, Action.manage_tokens, False),
    (Role.admin, Action.manage_tokens, True),
])
def test_permissions(role: Role, action: Action, allowed: bool) -> None:
    if allowed:
        require(role, action)
    else:
        with pytest.raises(Forbidden, match=f"may not {action.value}"):
            require(role, action)


def test_submitter_cannot_approve_own_candidate() -> None:
    with pytest.raises(Forbidden, match="alice submitted this candidate"):
        check_approver(Role.approver, "alice", "alice")
    check_approver(Role.approver, "bob", "alice")


def test_illegal_move_says_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition, match="allowed from submitted: evaluating"):
        plan_transition("submitted", "production", role=Role.admin, approved=True)


def test_operator_only_move_is_forbidden_for_a_submitter() -> None:
    with pytest.raises(Forbidden, match="operator decision"):
        plan_transition("canary", "production", role=Role.submitter, approved=True)
    assert plan_transition("canary", "production", role=Role.operator, approved=True) == "production"


def test_approved_needs_a_recorded_approval() -> None:
    with pytest.raises(Forbidden, match="needs a recorded approval"):
        plan_transition("awaiting_approval", "approved", role=Role.admin, approved=False)


def test_production_makes_a_champion() -> None:
    assert becomes_champion("production") and not becomes_champion("canary")


def test_tokens_are_random_and_hashed() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith("chl_")
    assert hash_token(a) != a and len(hash_token(a)) == 64


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None)])
def test_bearer(header: str | None, token: str | None) -> None:
    assert bearer(header) == token
