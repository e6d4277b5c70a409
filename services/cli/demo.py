"""`challenger demo`: start the embedded stack with the demo's policy and monitor settings,
then run one complete iteration (services/cli/iteration.py) and print its scorecard."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from services.cli import iteration
from services.cli.admin_token import read_admin_token
from shared.settings import Settings
from shared.stack.parts import ports
from shared.stack.state import read_state, running_parts

console = Console()


def running_stack() -> dict[str, Any] | None:
    home = Settings().home.resolve()
    if not running_parts(home):
        return None
    console.print(f"using the stack already running from {home} (its own policy and monitor settings)")
    return read_state(home)


def register(app: typer.Typer, start_stack: Callable[[bool], dict[str, Any]], no_models_option: Any) -> None:
    @app.command("demo")
    def demo(timeout: float = typer.Option(900, help="seconds each phase may take before the demo gives up")) -> None:
        """Start the stack and run one complete iteration: SmolLM2 champion vs Gemma-3 challenger
        through Dev, Staging (with an approval), a canary, injected drift and fallback."""
        home = Settings().home.resolve()
        os.environ.update(iteration.write_demo_configs(home))  # the services inherit these
        state = running_stack() or start_stack(True)
        names = {p["name"] for p in state["parts"]}
        missing = {"registry", "gateway", "deployer", "evaluator", "loadtester", "monitor"} - names
        if missing:
            console.print(f"[red]✗ the demo needs {', '.join(sorted(missing))}, which did not start[/]")
            raise typer.Exit(1)
        token = read_admin_token(home)
        if token is None:
            console.print(f"[red]✗ no admin token in {home}; create one with `challenger token create`[/]")
            raise typer.Exit(1)
        ok = iteration.run(ports(), token, stage_timeout_s=timeout)
        console.print("stop everything with: challenger down")
        raise typer.Exit(0 if ok else 1)

    _ = no_models_option  # the demo always needs the model servers
