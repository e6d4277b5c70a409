"""The moves one requested move carries: promotion keeps the old champion as standby, a rollback
hands production to the successor, each ordered so the one-production index never sees two."""

from __future__ import annotations

import pytest

from services.registry.domain.roles import Role
from services.registry.domain.stages import Move, Peer, plan_moves, plan_transition
from shared.pipeline import TERMINAL, TRANSITIONS, IllegalTransition, Stage


def test_standby_is_not_terminal_and_leaves_only_for_production_or_retirement() -> None:
    assert Stage.standby not in TERMINAL
    assert TRANSITIONS[Stage.standby] == {Stage.production, Stage.retired}
    assert TRANSITIONS[Stage.production] == {Stage.standby, Stage.rolled_back}


def test_promotion_moves_the_champion_to_standby_before_the_new_one_enters_production() -> None:
    moves = plan_moves(Peer("new", "canary"), Stage.production, "canary passed",
                       [Peer("champ", "production"), Peer("other", "evaluating")])

    assert [(m.candidate_id, m.to_stage) for m in moves] == [("champ", Stage.standby), ("new", Stage.production)]
    assert "replaced as champion by new" in moves[0].reason


def test_a_newer_standby_retires_the_older_one() -> None:
    moves = plan_moves(Peer("c3", "canary"), Stage.production, "promoted",
                       [Peer("c1", "standby"), Peer("c2", "production")])

    assert [(m.candidate_id, m.to_stage) for m in moves] == [
        ("c1", Stage.retired), ("c2", Stage.standby), ("c3", Stage.production)]
    assert moves[0].reason == "replaced as fallback by c2 when c3 was promoted"


def test_first_champion_moves_alone() -> None:
    assert plan_moves(Peer("c", "canary"), Stage.production, "no champion", []) == [
        Move("c", Stage.production, "no champion")]


def test_rolling_back_production_hands_it_to_the_standby() -> None:
    moves = plan_moves(Peer("b", "production"), Stage.rolled_back, "degradation dg-1: drift_share",
                       [Peer("a", "standby")])

    assert moves == [Move("b", Stage.rolled_back, "degradation dg-1: drift_share"),
                     Move("a", Stage.production, "takes over production from b: degradation dg-1: drift_share")]


def test_a_named_successor_must_be_standby_or_canary_of_the_task() -> None:
    peers = [Peer("a", "standby"), Peer("c", "canary"), Peer("r", "retired")]
    assert plan_moves(Peer("b", "production"), Stage.rolled_back, "x", peers, "c")[1] == \
        Move("c", Stage.production, "takes over production from b: x")
    with pytest.raises(IllegalTransition, match="r cannot take over production from b: it is retired"):
        plan_moves(Peer("b", "production"), Stage.rolled_back, "x", peers, "r")
    with pytest.raises(IllegalTransition, match="it is not a candidate of this task"):
        plan_moves(Peer("b", "production"), Stage.rolled_back, "x", peers, "elsewhere")


def test_a_rollback_with_nothing_to_take_over_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="cannot roll back b: the task has no standby to take over"):
        plan_moves(Peer("b", "production"), Stage.rolled_back, "pager", [Peer("x", "canary")])


def test_rolling_back_a_canary_moves_nobody_else() -> None:
    assert plan_moves(Peer("c", "canary"), Stage.rolled_back, "harm", [Peer("a", "production")]) == [
        Move("c", Stage.rolled_back, "harm")]
    with pytest.raises(IllegalTransition, match="a successor is named only"):
        plan_moves(Peer("c", "canary"), Stage.rolled_back, "harm", [Peer("a", "standby")], "a")


@pytest.mark.parametrize(("current", "target", "why"), [
    ("production", "standby", "only when another candidate is promoted"),
    ("standby", "production", "only when the champion is rolled back"),
])
def test_coupled_moves_are_refused_on_their_own(current: str, target: str, why: str) -> None:
    with pytest.raises(IllegalTransition, match=why):
        plan_transition(current, target, role=Role.admin, approved=True)


def test_a_serving_champion_is_not_retired_directly() -> None:
    with pytest.raises(IllegalTransition, match="cannot move from production to retired"):
        plan_transition("production", "retired", role=Role.admin, approved=True)
    assert plan_transition("standby", "retired", role=Role.operator, approved=True) == Stage.retired
