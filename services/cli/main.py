"""`challenger`: one CLI over every service. Each service contributes its commands from its
own `entrypoints/cli.py`; this module only assembles them."""

from __future__ import annotations

import importlib
import logging
import sys

import typer

app = typer.Typer(help="Challenger: champion/challenger iteration for LLMs in production.",
                  no_args_is_help=True, add_completion=False)

# (module, sub-command group or None to merge top-level commands)
COMMAND_MODULES: list[str] = [
    "services.cli.stack",
    "services.registry.entrypoints.cli",
    "services.evaluator.entrypoints.cli",
    "services.loadtester.entrypoints.cli",
    "services.prompt_optimizer.entrypoints.cli",
    "services.deployer.entrypoints.cli",
    "services.monitor.entrypoints.cli",
    "services.gateway.entrypoints.cli",
]


# The stack's own commands skip importing every service (seconds of scipy/matplotlib imports
# that `challenger down` or `challenger watch` never use).
STACK_MODULE = "services.cli.stack"
STACK_COMMANDS = frozenset({"up", "down", "status", "restart", "kill", "watch", "topics", "demo"})


def modules_for(argv: list[str]) -> list[str]:
    return [STACK_MODULE] if len(argv) > 1 and argv[1] in STACK_COMMANDS else COMMAND_MODULES


def _register() -> None:
    for name in modules_for(sys.argv):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a service without commands yet
            raise
        module.register(app)


_register()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":
    main()
