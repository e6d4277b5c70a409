"""`challenger up | down | status | topics | watch | demo`: the embedded stack for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from challenger.client.credentials import read_admin_token, token_path
from challenger.stack.launcher import StackConfig, down, kill, restart, status, up
from schemas import TOPICS
from services.cli import demo as demo_cli
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.cli.watch import watch
from shared.process import Proc
from shared.process import ProcessError as StackError  # the cli helper renames the except clauses (issue 17)
from shared.settings import Settings


class RichReporter:
    """Visible progress on stderr: one line per part as it starts and as it turns healthy."""

    def __init__(self) -> None:
        self.console = progress_console()

    def starting(self, proc: Proc) -> None:
        self.console.print(Text.assemble("  starting ", (proc.name, "bold"),
                                         f" on port {proc.port} (log: {proc.log_path})"))

    def ready(self, proc: Proc, seconds: float) -> None:
        self.console.print(Text.assemble("  ", ("✓", "green"), f" {proc.name} healthy after {seconds:.1f}s"))

    def note(self, message: str) -> None:
        self.console.print(Text.assemble("  ", ("✓", "green"), f" {message}"))


def home() -> Path:
    return Settings().home.resolve()


def start_stack(with_models: bool) -> dict[str, Any]:
    """`up` as a function, so `demo` and tests reuse it; exits 1 with the reason on failure.
    Progress goes to stderr; the caller prints the result (`where`)."""
    cfg = StackConfig.from_env(home(), with_models=with_models)
    reporter = RichReporter()
    reporter.console.print(f"starting the embedded stack in {cfg.home}", markup=False)
    try:
        with reporter.console.status("waiting for health checks…"):
            state = up(cfg, reporter)
    except StackError as exc:
        fail(f"{exc}\nstopped everything this command had started.")
    if "registry" in cfg.services:
        state["admin_token"] = read_admin_token(cfg.home)
        if state["admin_token"] is None:
            reporter.console.print(f"! no {token_path(cfg.home)}: the registry's admin token was shown when it was "
                                   "first created; create another with the registry's token command",
                                   style="yellow", markup=False)
    return state


def where(out: Output, state: dict[str, Any]) -> list[Any]:
    """Where each part listens and logs, the admin token, the database and the state file."""
    table = out.table("Challenger is up", [Column("part", key=True), Column("listens on", key=True),
                                           Column("log")],
                      [[p["name"], p["url"] or str(p["port"]), p["log"]] for p in state["parts"]])
    token = state.get("admin_token")
    lines = [f"admin token (kept in {token_path(Path(state['home']))}, mode 600): {token}"] if token else []
    return [table, *lines, f"database: {state['database_url']}", f"state: {Path(state['home']) / 'stack.json'}"]


NO_MODELS = typer.Option(False, "--no-models", help="Do not start the llama.cpp model servers.")


@with_output
def up_cmd(no_models: bool = NO_MODELS, *, out: Output) -> None:
    """Start the embedded stack: broker, model servers and every service built so far."""
    state = start_stack(with_models=not no_models)
    out.emit(state, *where(out, state))


@with_output
def down_cmd(out: Output) -> None:
    """Stop every part of the embedded stack (whole process groups; nothing left running)."""
    stopped = down(home())
    out.emit({"stopped": stopped}, f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


PART = typer.Argument(..., help="A part's name as `challenger status` shows it, e.g. evaluator or broker.")


@with_output
def restart_cmd(part: str = PART, *, out: Output) -> None:
    """Start one part again (stopping it first if it still runs) with the command and env `up` gave it."""
    cfg = StackConfig.from_env(home())
    try:
        state = restart(cfg, part, RichReporter())
    except StackError as exc:
        fail(str(exc))
    [record] = [p for p in state["parts"] if p["name"] == part]
    out.emit(record, f"{part} runs again as pid {record['pid']}")


@with_output
def kill_cmd(part: str = PART, *, out: Output) -> None:
    """SIGKILL one part's processes, as a crash would (for fault drills; `restart` brings it back)."""
    try:
        pid = kill(home(), part)
    except StackError as exc:
        fail(str(exc))
    out.emit({"part": part, "pid": pid}, f"killed {part} (pid {pid}) with SIGKILL")


HEALTH_COLOUR = {"healthy": "green", "not answering": "yellow", "stopped": "red"}


@with_output
def status_cmd(out: Output) -> None:
    """Show each part of the stack: pid, port and health."""
    parts = status(home())
    if not parts:
        fail(f"no stack is running from {home()}")
    columns = [Column("part", key=True), Column("pid"), Column("port"), Column("health"), Column("url", key=True)]
    rows = [[p.name, str(p.pid or "-"), str(p.port), Text(p.health, style=HEALTH_COLOUR[p.health]), p.url]
            for p in parts]
    data = [{"part": p.name, "pid": p.pid, "port": p.port, "health": p.health, "url": p.url} for p in parts]
    out.emit(data, out.table(None, columns, rows))
    if any(p.health != "healthy" for p in parts):
        raise typer.Exit(2)


@with_output
def topics_cmd(out: Output) -> None:
    """List the topic catalogue: partitions, key and event types."""
    data = [{"topic": t.name, "partitions": t.partitions, "key": t.key,
             "event_types": [cls.event_type for cls in t.events]} for t in TOPICS]
    rows = [[t["topic"], str(t["partitions"]), t["key"], "\n".join(t["event_types"]) or "(any: dead letters)"]
            for t in data]
    out.emit(data, out.table(None, [Column("topic", key=True), Column("partitions"), Column("key"),
                                    Column("event types", key=True)], rows))


def register(app: typer.Typer) -> None:
    app.command("up")(up_cmd)
    app.command("down")(down_cmd)
    app.command("status")(status_cmd)
    app.command("restart")(restart_cmd)
    app.command("kill")(kill_cmd)
    app.command("topics")(topics_cmd)
    app.command("watch")(watch)
    demo_cli.register(app, start_stack)
