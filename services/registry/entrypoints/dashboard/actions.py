"""The dashboard's buttons: which role sees which move in which stage, derived from the roles'
permissions and the registry's own check of a move (both declared once elsewhere). Each button names
the REST endpoint the CLI calls for the same move; the registry still decides, and its refusal
is what the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from services.registry.domain.errors import Forbidden
from services.registry.domain.roles import PERMISSIONS, Action, Role
from services.registry.domain.stages import plan_transition
from shared.pipeline import IllegalTransition, Stage


@dataclass(frozen=True)
class Button:
    name: str
    label: str
    needs: Action
    to_stage: Stage
    endpoint: Literal["approve", "transition"]  # POST /api/v1/candidates/{id}/<endpoint>
    text: Literal["comment", "reason"]          # the body field the text box fills
    only_from: frozenset[Stage] | None = None    # None: wherever the pipeline allows the move

    def shown(self, role: Role, stage: Stage) -> bool:
        """The role holds the button's permission, and the registry's own check of the move
        passes (legal from `stage`, not only half of a coupled move, the role allowed to make it)."""
        if self.needs not in PERMISSIONS[role] or (self.only_from is not None and stage not in self.only_from):
            return False
        try:
            plan_transition(stage, self.to_stage, role=role, approved=True)
        except (IllegalTransition, Forbidden):
            return False
        return True


BUTTONS: tuple[Button, ...] = (
    Button("approve", "Approve", Action.approve, Stage.approved, "approve", "comment"),
    Button("reject", "Reject", Action.approve, Stage.rejected, "transition", "reason",
           only_from=frozenset({Stage.awaiting_approval})),
    Button("promote", "Promote", Action.operate, Stage.production, "transition", "reason"),
    Button("abort", "Abort", Action.operate, Stage.rejected, "transition", "reason"),
    Button("rollback", "Roll back", Action.operate, Stage.rolled_back, "transition", "reason"),
)


def buttons_for(role: Role, stage: Stage) -> list[Button]:
    return [b for b in BUTTONS if b.shown(role, stage)]


def button_table() -> dict[str, Any]:
    """What the page needs: each role's permissions (labelling needs `submit`), each button's
    request, and per role and stage the buttons shown."""
    return {
        "permissions": {role.value: sorted(a.value for a in PERMISSIONS[role]) for role in Role},
        "buttons": {b.name: {"label": b.label, "to_stage": b.to_stage.value, "endpoint": b.endpoint, "text": b.text}
                    for b in BUTTONS},
        "shown": {role.value: {stage.value: [b.name for b in buttons_for(role, stage)] for stage in Stage}
                  for role in Role},
    }
