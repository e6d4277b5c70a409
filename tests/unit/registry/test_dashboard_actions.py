"""The dashboard's buttons per role and stage, and that each one shown is a move the registry
itself would allow that role (the page never offers what the API must refuse on role alone)."""

from __future__ import annotations

import pytest

from services.registry.domain.roles import Role
from services.registry.domain.stages import plan_transition
from services.registry.entrypoints.dashboard.actions import BUTTONS, button_table, buttons_for
from shared.pipeline import TERMINAL, Stage


def names(role: Role, stage: Stage) -> list[str]:
    return [b.name for b in buttons_for(role, stage)]


@pytest.mark.parametrize("stage", list(Stage))
def test_a_submitter_sees_no_button_anywhere(stage: Stage) -> None:
    assert names(Role.submitter, stage) == []


@pytest.mark.parametrize(("role", "stage", "expected"), [
    (Role.approver, Stage.awaiting_approval, ["approve", "reject"]),
    (Role.approver, Stage.staging, []),
    (Role.approver, Stage.canary, []),
    (Role.operator, Stage.awaiting_approval, ["abort"]),
    (Role.operator, Stage.evaluating, ["abort"]),
    (Role.operator, Stage.canary, ["promote", "rollback"]),
    (Role.operator, Stage.production, ["rollback"]),
    (Role.operator, Stage.standby, []),  # standby -> production happens only with a champion's rollback
    (Role.operator, Stage.approved, []),
    (Role.admin, Stage.awaiting_approval, ["approve", "reject", "abort"]),
])
def test_buttons_follow_the_role_and_the_stage(role: Role, stage: Stage, expected: list[str]) -> None:
    assert names(role, stage) == expected


@pytest.mark.parametrize("stage", sorted(TERMINAL))
def test_terminal_stages_offer_nothing(stage: Stage) -> None:
    assert all(names(role, stage) == [] for role in Role)


@pytest.mark.parametrize("role", list(Role))
def test_every_button_shown_is_a_move_the_registry_allows_the_role(role: Role) -> None:
    for stage in Stage:
        for button in buttons_for(role, stage):
            assert plan_transition(stage, button.to_stage, role=role, approved=True) == button.to_stage


def test_the_table_the_page_reads() -> None:
    table = button_table()
    assert set(table["buttons"]) == {b.name for b in BUTTONS}
    assert table["buttons"]["approve"] == {"label": "Approve", "to_stage": "approved", "endpoint": "approve",
                                           "text": "comment"}
    assert table["buttons"]["rollback"]["endpoint"] == "transition"
    assert table["shown"]["approver"]["awaiting_approval"] == ["approve", "reject"]
    assert set(table["shown"]) == {r.value for r in Role}
    assert "submit" in table["permissions"]["submitter"] and "submit" not in table["permissions"]["approver"]
