"""`challenger up | down | status | topics | watch | demo`: the embedded stack for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from schemas import TOPICS
from services.cli import demo as demo_cli
from services.cli.admin_token import read_admin_token, token_path
from services.cli.watch import watch
from shared.settings import Settings
from shared.stack.launcher import StackConfig, down, kill, restart, status, up
from shared.stack.process import Proc, StackError

console = Console()


class RichReporter:
    """Visible progress: one line per part as it starts and as it turns healthy."""

    def starting(self, proc: Proc) -> None:
        console.print(f"  starting [bold]{proc.name}[/] on port {proc.port} (log: {proc.log_path})")

    def ready(self, proc: Proc, seconds: float) -> None:
        console.print(f"  [green]✓[/] {proc.name} healthy after {seconds:.1f}s")

    def note(self, message: str) -> None:
        console.print(f"  [green]✓[/] {message}")


def home() -> Path:
    return Settings().home.resolve()


def start_stack(with_models: bool) -> dict[str, Any]:
    """`up` as a function, so `demo` and tests reuse it; exits 1 with the reason on failure."""
    cfg = StackConfig.from_env(home(), with_models=with_models)
    console.print(f"starting the embedded stack in {cfg.home}")
    try:
        with console.status("waiting for health checks…"):
            state = up(cfg, RichReporter())
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]\nstopped everything this command had started.", markup=True)
        raise typer.Exit(1) from exc
    if "registry" in cfg.services:
        state["admin_token"] = _admin_token(cfg)
    _print_where(state)
    return state


def _admin_token(cfg: StackConfig) -> str | None:
    token, where = read_admin_token(cfg.home), token_path(cfg.home)
    if token is None:
        console.print(f"[yellow]! no {where}: the registry's admin token was shown when it was first created; "
                      "create another with the registry's token command[/]")
    else:
        console.print(f"admin token (kept in {where}, mode 600): [bold]{token}[/]", soft_wrap=True)
    return token


def _print_where(state: dict[str, Any]) -> None:
    table = Table(title="Challenger is up", show_lines=False)
    for column in ("part", "listens on", "log"):
        table.add_column(column, overflow="fold")
    for part in state["parts"]:
        table.add_row(part["name"], part["url"] or str(part["port"]), part["log"])
    console.print(table)
    console.print(f"database: {state['database_url']}\nstate: {Path(state['home']) / 'stack.json'}")


NO_MODELS = typer.Option(False, "--no-models", help="Do not start the llama.cpp model servers.")


def up_cmd(no_models: bool = NO_MODELS) -> None:
    """Start the embedded stack: broker, model servers and every service built so far."""
    start_stack(with_models=not no_models)


def down_cmd() -> None:
    """Stop every part of the embedded stack (whole process groups; nothing left running)."""
    stopped = down(home())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


PART = typer.Argument(..., help="A part's name as `challenger status` shows it, e.g. evaluator or broker.")


def restart_cmd(part: str = PART) -> None:
    """Start one part again (stopping it first if it still runs) with the command and env `up` gave it."""
    cfg = StackConfig.from_env(home())
    try:
        state = restart(cfg, part, RichReporter())
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]", markup=True)
        raise typer.Exit(1) from exc
    [record] = [p for p in state["parts"] if p["name"] == part]
    console.print(f"{part} runs again as pid {record['pid']}")


def kill_cmd(part: str = PART) -> None:
    """SIGKILL one part's processes, as a crash would (for fault drills; `restart` brings it back)."""
    try:
        pid = kill(home(), part)
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]", markup=True)
        raise typer.Exit(1) from exc
    console.print(f"killed {part} (pid {pid}) with SIGKILL")


def status_cmd() -> None:
    """Show each part of the stack: pid, port and health."""
    parts = status(home())
    if not parts:
        console.print(f"no stack is running from {home()}")
        raise typer.Exit(1)
    table = Table()
    for column in ("part", "pid", "port", "health", "url"):
        table.add_column(column)
    colour = {"healthy": "green", "not answering": "yellow", "stopped": "red"}
    for p in parts:
        table.add_row(p.name, str(p.pid or "-"), str(p.port), f"[{colour[p.health]}]{p.health}[/]", p.url or "")
    console.print(table)
    if any(p.health != "healthy" for p in parts):
        raise typer.Exit(2)


def topics_cmd() -> None:
    """List the topic catalogue: partitions, key and event types."""
    table = Table()
    for column in ("topic", "partitions", "key", "event types"):
        table.add_column(column)
    for t in TOPICS:
        types = "\n".join(cls.event_type for cls in t.events) or "(any: dead letters)"
        table.add_row(t.name, str(t.partitions), t.key, types)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("up")(up_cmd)
    app.command("down")(down_cmd)
    app.command("status")(status_cmd)
    app.command("restart")(restart_cmd)
    app.command("kill")(kill_cmd)
    app.command("topics")(topics_cmd)
    app.command("watch")(watch)
    demo_cli.register(app, start_stack, NO_MODELS)
