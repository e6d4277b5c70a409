"""`challenger demo`: start the embedded stack with the demo's policy and monitor settings,
then run one complete iteration (services/cli/iteration.py) and print its scorecard."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from challenger.client.credentials import read_admin_token
from challenger.stack.parts import ports
from challenger.stack.state import read_state, running_parts
from services.cli import iteration
from services.cli.option_groups import bind
from services.cli.output import Output, fail, progress_console, registry_errors, with_output
from shared.settings import Settings


def running_stack() -> dict[str, Any] | None:
    home = Settings().home.resolve()
    if not running_parts(home):
        return None
    progress_console().print(f"using the stack already running from {home} (its own policy and monitor settings)",
                             markup=False)
    return read_state(home)


Timeout = Annotated[float, typer.Option(help="seconds the demo waits for a stage move before it gives up")]


@with_output
def demo(start_stack: Callable[[bool], dict[str, Any]], timeout: Timeout = 900, *, out: Output) -> None:
    """Start the stack and run one complete iteration: SmolLM2 champion vs Gemma-3 challenger
    through Dev, Staging (with an approval), a canary, injected drift and fallback."""
    home = Settings().home.resolve()
    os.environ.update(iteration.write_demo_configs(home))  # the services inherit these
    state = running_stack() or start_stack(True)  # the demo always needs the model servers
    names = {p["name"] for p in state["parts"]}
    missing = {"registry", "gateway", "deployer", "evaluator", "loadtester", "monitor"} - names
    if missing:
        fail(f"the demo needs {', '.join(sorted(missing))}, which did not start")
    token = read_admin_token(home)
    if token is None:
        fail(f"no admin token in {home}; create one with `challenger token create`")
    with registry_errors():
        ok = iteration.run(ports(), token, out, stage_timeout_s=timeout)
    progress_console().print("stop everything with: challenger down", markup=False)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer, start_stack: Callable[[bool], dict[str, Any]]) -> None:
    """`start_stack` is `up` (services/cli/stack.py, which registers this module: bound, not imported)."""
    app.command("demo")(bind(demo, "start_stack", start_stack))
