"""`challenger`: one CLI over every service. Each service contributes its commands from its
own `cli.py`; this module only assembles them."""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(help="Challenger: champion/challenger iteration for LLMs in production.",
                  no_args_is_help=True, add_completion=False)

# (module, sub-command group or None to merge top-level commands)
COMMAND_MODULES: list[str] = [
    "services.cli.stack",
    "services.registry.cli",
    "services.evaluator.cli",
    "services.loadtester.cli",
    "services.prompt_optimizer.cli",
    "services.deployer.cli",
    "services.monitor.cli",
    "services.gateway.cli",
]


def _register() -> None:
    for name in COMMAND_MODULES:
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
