"""The iteration pipeline: every stage and every legal transition, declared once.

The registry applies transitions (it is the single writer of a candidate's stage); the
deployer decides when to request them. Both read this module and nothing else.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    submitted = "submitted"
    evaluating = "evaluating"
    load_testing = "load_testing"
    prompt_optimizing = "prompt_optimizing"
    dev_passed = "dev_passed"
    staging = "staging"
    awaiting_approval = "awaiting_approval"
    approved = "approved"
    canary = "canary"
    production = "production"
    standby = "standby"
    rejected = "rejected"
    rolled_back = "rolled_back"
    retired = "retired"


S = Stage
TERMINAL: frozenset[Stage] = frozenset({S.rejected, S.rolled_back, S.retired})

TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    S.submitted: frozenset({S.evaluating, S.rejected, S.retired}),
    S.evaluating: frozenset({S.load_testing, S.rejected, S.retired}),
    S.load_testing: frozenset({S.prompt_optimizing, S.dev_passed, S.rejected, S.retired}),
    S.prompt_optimizing: frozenset({S.dev_passed, S.rejected, S.retired}),
    S.dev_passed: frozenset({S.staging, S.rejected, S.retired}),
    S.staging: frozenset({S.awaiting_approval, S.rejected, S.retired}),
    S.awaiting_approval: frozenset({S.approved, S.rejected, S.retired}),
    S.approved: frozenset({S.canary, S.retired}),
    S.canary: frozenset({S.production, S.rolled_back}),
    # A champion leaves production only for another: to standby when a newer candidate is
    # promoted, to rolled_back when its fallback (the standby) takes over. Retiring a serving
    # champion would leave its route with nothing the record calls serving.
    S.production: frozenset({S.standby, S.rolled_back}),
    # Not terminal: still deployable, the route's fallback target. It returns to production when
    # the champion is rolled back (fallback or an operator's rollback), and is retired when an
    # operator retires it or a later promotion makes a newer standby the fallback.
    S.standby: frozenset({S.production, S.retired}),
    S.rejected: frozenset(),
    S.rolled_back: frozenset(),
    S.retired: frozenset(),
}

# Moves only an operator (or admin) may make by hand.
OPERATOR_ONLY: frozenset[tuple[Stage, Stage]] = frozenset({
    (S.canary, S.production),
    (S.canary, S.rolled_back),
    (S.production, S.rolled_back),
})


# Moves the registry makes only as the other half of another candidate's move, in the same
# transaction, never on their own request (the route changes with the other candidate). The
# value is the reason a direct request is refused.
COUPLED: dict[tuple[Stage, Stage], str] = {
    (S.production, S.standby): "a champion becomes standby only when another candidate is promoted to production",
    (S.standby, S.production): "a standby returns to production only when the champion is rolled back "
                               "(roll back the production candidate instead)",
}


class IllegalTransition(ValueError):
    pass


def check_transition(current: Stage | str, target: Stage | str) -> Stage:
    """Return the target stage, or raise IllegalTransition with the reason."""
    try:
        cur, to = Stage(current), Stage(target)
    except ValueError as exc:
        raise IllegalTransition(f"unknown stage: {exc}") from exc
    if to not in TRANSITIONS[cur]:
        allowed = ", ".join(sorted(TRANSITIONS[cur])) or "none (terminal stage)"
        raise IllegalTransition(f"cannot move from {cur} to {to}; allowed from {cur}: {allowed}")
    return to


def is_terminal(stage: Stage | str) -> bool:
    return Stage(stage) in TERMINAL


# Where each stage is served: a staged candidate alone on its task's staging route; the
# champion (with a canary beside it) on the task's production route, the standby as its fallback.
def prod_route(task: str) -> str:
    return task


def staging_route(task: str) -> str:
    return f"{task}-staging"
