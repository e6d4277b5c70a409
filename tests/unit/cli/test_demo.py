"""The demo's candidates: valid specs against the stack's own model servers, on a built-in task."""

from __future__ import annotations

from services.cli.demo import DEMO_TASK, demo_specs
from shared.datasets import BUILTIN_TASKS
from shared.stack.parts import DEFAULT_PORTS


def test_champion_and_challenger_point_at_the_two_model_servers() -> None:
    ports = dict(DEFAULT_PORTS) | {"smollm2": 9301, "gemma3": 9302}

    champion, challenger = demo_specs(ports)

    assert (champion.model, str(champion.endpoint)) == ("smollm2", "http://127.0.0.1:9301/v1")
    assert (challenger.model, str(challenger.endpoint)) == ("gemma3", "http://127.0.0.1:9302/v1")
    assert champion.task == challenger.task == DEMO_TASK and DEMO_TASK in BUILTIN_TASKS
    assert champion.name != challenger.name and {champion.tags["demo"], challenger.tags["demo"]} == {
        "champion", "challenger"}
