"""Deployer commands: operators' promote / abort / rollback, pipeline runs, SGLang targets."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
from pathlib import Path
from typing import Any

import httpx
import typer

from schemas.candidate import CandidateSpec
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.deployer import operator, sglang_launch
from services.deployer.adapters.policy_file import DEFAULT_POLICY, PolicyError, load_policy
from services.deployer.config import DeployerSettings
from shared.pipeline import Stage

DEPLOYER_URL = "http://127.0.0.1:8104"
MOVES = {"promote": (Stage.production, "promote a canary to production (the registry makes it the champion)"),
         "abort": (Stage.rejected, "stop a candidate's pipeline before it reaches production"),
         "rollback": (Stage.rolled_back, "roll a canary back to the champion, or a production candidate back to its "
                                         "standby (which becomes the champion again)")}


def _move(out: Output, command: str, candidate_id: str, reason: str, actor: str | None, wait: float) -> None:
    settings = DeployerSettings()
    to_stage, _ = MOVES[command]
    who = actor or f"operator:{getpass.getuser()}"
    outcome = asyncio.run(operator.request_move(settings.kafka_bootstrap, candidate_id, to_stage, actor=who,
                                                reason=reason or f"{command} by {who}", wait_s=wait))
    path = operator.audit(settings.home, command, outcome)
    out.emit(dataclasses.asdict(outcome) | {"audit": str(path)},
             f"{command} {candidate_id} -> {to_stage}: {outcome.status}: {outcome.detail}  (audit: {path})")
    if outcome.status != "applied":
        raise typer.Exit(1 if outcome.status == "refused" else 2)


def _register_move(app: typer.Typer, command: str) -> None:
    _, help_text = MOVES[command]

    @app.command(command, help=f"{help_text[0].upper()}{help_text[1:]}; an illegal move is refused with the reason.")
    @with_output
    def move(candidate_id: str = typer.Argument(..., help="candidate id"),
             reason: str = typer.Option("", "--reason", "-r", help="why (kept in the audit trail)"),
             actor: str = typer.Option(None, "--actor", help="who; default operator:<login>"),
             wait: float = typer.Option(15.0, "--wait", help="seconds to wait for the registry's answer"), *,
             out: Output) -> None:
        _move(out, command, candidate_id, reason, actor, wait)


RUNS = [Column("candidate", key=True), Column("task"), Column("stage"), Column("phase"), Column("step", drop=2),
        Column("last event", drop=1)]


def _get(url: str) -> Any:
    """The deployer's read API; its refusal (a 404) in its own words."""
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the deployer at {url}: {exc}", 2)
    if response.is_error:
        fail(f"HTTP {response.status_code}: {response.json().get('detail', response.text)}")
    return response.json()


def _last_event(run: dict[str, Any]) -> str:
    last = run.get("last_event") or (run.get("history") or [{}])[-1]
    return " ".join(str(v) for v in last.values() if v not in (None, ""))


def effective_policy(task: str | None, url: str) -> dict[str, Any]:
    """The policy the running deployer judges with; the policy file when no deployer answers."""
    try:
        resp = httpx.get(f"{url}/api/v1/policy/effective", params={"task": task} if task else None, timeout=10)
        resp.raise_for_status()
        return {**resp.json(), "from": f"the running deployer at {url}"}
    except httpx.HTTPError as exc:
        path = DeployerSettings().deployer_policy or DEFAULT_POLICY
        progress_console().print(f"no deployer answered at {url} ({exc}); showing the policy file {path}")
        try:
            described = load_policy(path).describe(task)
        except PolicyError as bad:
            fail(str(bad), 2)
        return {"file": str(path), **described, "from": "the policy file (no deployer running)"}


POLICY = [Column("setting", key=True), Column("value"), Column("source", key=True)]


def policy_table(out: Output, doc: dict[str, Any]) -> Any:
    title = (f"policy for task {doc['task']}: section {doc['section']}" if doc.get("task")
             else "policy defaults") + f" ({doc['file']}, {doc['from']})"
    rows = [[f"{dim}.{key}", json.dumps(item["value"]), item["source"]]
            for dim, values in doc["values"].items() for key, item in values.items()]
    return out.table(title, POLICY, rows)


def _spec(path: Path) -> CandidateSpec:
    try:
        return CandidateSpec.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc


def register(app: typer.Typer) -> None:
    for command in MOVES:
        _register_move(app, command)

    deployer = typer.Typer(help="Pipeline runs driven by the deployer.", no_args_is_help=True)
    app.add_typer(deployer, name="deployer")

    policy = typer.Typer(help="The promotion policy the deployer judges with.", no_args_is_help=True)
    app.add_typer(policy, name="policy")

    @policy.command("show", help="The policy in force (for one task: its section over the defaults), "
                                 "with the section each value came from.")
    @with_output
    def policy_show(task: str = typer.Option(None, "--task", help="the task whose policy to show"),
                    url: str = typer.Option(DEPLOYER_URL, help="deployer base URL"), *, out: Output) -> None:
        doc = effective_policy(task, url)
        out.emit(doc, policy_table(out, doc))

    @deployer.command("runs", help="List pipeline runs (stage, phase, last canary analysis).")
    @with_output
    def runs(url: str = typer.Option(DEPLOYER_URL, help="deployer base URL"), *, out: Output) -> None:
        rows = _get(f"{url}/api/v1/runs")
        out.emit(rows, out.table("pipeline runs", RUNS, [
            [r["candidate_id"], r.get("task"), r.get("stage"), r.get("phase"), r.get("canary_step"), _last_event(r)]
            for r in rows]))

    @deployer.command("show", help="Show one run with its full audit history.")
    @with_output
    def show(candidate_id: str, url: str = typer.Option(DEPLOYER_URL, help="deployer base URL"), *,
             out: Output) -> None:
        run = _get(f"{url}/api/v1/runs/{candidate_id}")
        history = out.table("audit history", [Column("event")],
                            [[" ".join(f"{k}={v}" for k, v in h.items() if v not in (None, ""))]
                             for h in run.get("history") or []])
        out.emit(run, out.table(f"run {candidate_id}", RUNS, [
            [run["candidate_id"], run.get("task"), run.get("stage"), run.get("phase"), run.get("canary_step"),
             _last_event(run)]]), history)

    sglang = typer.Typer(help="SGLang targets: launch command, Kubernetes manifest, local process.",
                         no_args_is_help=True)
    app.add_typer(sglang, name="sglang")

    @sglang.command("command", help="Print the sglang.launch_server command for a candidate spec (JSON file).")
    def command(spec: Path) -> None:
        typer.echo(sglang_launch.launch_command(_spec(spec)))

    @sglang.command("manifest", help="Print a Kubernetes Deployment + Service with /health probes.")
    def manifest(spec: Path, candidate_id: str = typer.Option(..., help="candidate id"),
                 image: str = typer.Option(sglang_launch.DEFAULT_IMAGE, help="SGLang container image"),
                 namespace: str = typer.Option("challenger", help="Kubernetes namespace")) -> None:
        typer.echo(sglang_launch.render_manifest(_spec(spec), candidate_id, image=image, namespace=namespace))

    @sglang.command("start", help="Start SGLang locally for a candidate and wait for /health.")
    @with_output
    def start(spec: Path, candidate_id: str = typer.Option(..., help="candidate id"), *, out: Output) -> None:
        try:
            proc = sglang_launch.start_local(_spec(spec), candidate_id, DeployerSettings().home)
        except sglang_launch.SglangUnavailable as exc:
            fail(str(exc), 2)
        out.emit({"port": proc.port, "log": str(proc.log_path)}, f"healthy on port {proc.port} (log {proc.log_path})")

    @sglang.command("stop", help="Stop a locally started SGLang server.")
    @with_output
    def stop(candidate_id: str, out: Output) -> None:
        stopped = sglang_launch.stop_local(candidate_id, DeployerSettings().home)
        out.emit({"stopped": stopped}, "stopped" if stopped else "was not running")
