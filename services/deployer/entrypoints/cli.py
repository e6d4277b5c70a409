"""Deployer commands: operators' promote / abort / rollback, pipeline runs, SGLang targets."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
from typing import Annotated, Any

import httpx
import typer

from schemas.candidate import CandidateSpec
from services.cli.option_groups import bind, with_options
from services.cli.options import CandidateOptions, candidate_spec
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.deployer.adapters import operator, sglang_launch
from services.deployer.adapters.policy_file import DEFAULT_POLICY, PolicyError, load_policy
from services.deployer.config import DeployerSettings
from shared.pipeline import Stage
from shared.ports import port_of

DEPLOYER_URL = f"http://127.0.0.1:{port_of('deployer')}"
MOVES = {"promote": (Stage.production, "promote a canary to production (the registry makes it the champion)"),
         "abort": (Stage.rejected, "stop a candidate's pipeline before it reaches production"),
         "rollback": (Stage.rolled_back, "roll a canary back to the champion, or a production candidate back to its "
                                         "standby (which becomes the champion again)")}


CandidateId = Annotated[str, typer.Argument(help="candidate id")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="why (kept in the audit trail)")]
Actor = Annotated[str | None, typer.Option("--actor", help="who; default operator:<login>")]
Wait = Annotated[float, typer.Option("--wait", help="seconds to wait for the registry's answer")]


@with_output
def move(command: str, candidate_id: CandidateId, reason: Reason = "", actor: Actor = None, wait: Wait = 15.0, *,
         out: Output) -> None:
    """`promote`, `abort` and `rollback` (`command`, bound when registered): ask for the move over the bus."""
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


deployer_app = typer.Typer(help="Pipeline runs driven by the deployer.", no_args_is_help=True)
policy_app = typer.Typer(help="The promotion policy the deployer judges with.", no_args_is_help=True)
sglang_app = typer.Typer(help="SGLang targets: launch command, Kubernetes manifest, local process.",
                         no_args_is_help=True)
DeployerUrl = Annotated[str, typer.Option(help="deployer base URL")]
PolicyTask = Annotated[str | None, typer.Option("--task", help="the task whose policy to show")]


@policy_app.command("show")
@with_output
def policy_show(task: PolicyTask = None, url: DeployerUrl = DEPLOYER_URL, *, out: Output) -> None:
    """The policy in force (for one task: its section over the defaults), with the section each value came from."""
    doc = effective_policy(task, url)
    out.emit(doc, policy_table(out, doc))


def _run_row(run: dict[str, Any]) -> list[Any]:
    return [run["candidate_id"], run.get("task"), run.get("stage"), run.get("phase"), run.get("canary_step"),
            _last_event(run)]


@deployer_app.command("runs")
@with_output
def runs(url: DeployerUrl = DEPLOYER_URL, *, out: Output) -> None:
    """List pipeline runs (stage, phase, last canary analysis)."""
    rows = _get(f"{url}/api/v1/runs")
    out.emit(rows, out.table("pipeline runs", RUNS, [_run_row(r) for r in rows]))


@deployer_app.command("show")
@with_output
def show(candidate_id: CandidateId, url: DeployerUrl = DEPLOYER_URL, *, out: Output) -> None:
    """Show one run with its full audit history."""
    run = _get(f"{url}/api/v1/runs/{candidate_id}")
    history = out.table("audit history", [Column("event")],
                        [[" ".join(f"{k}={v}" for k, v in h.items() if v not in (None, ""))]
                         for h in run.get("history") or []])
    out.emit(run, out.table(f"run {candidate_id}", RUNS, [_run_row(run)]), history)


def sglang_spec(target: CandidateOptions) -> CandidateSpec:
    """The candidate to serve; it needs an SGLang launch spec, so in practice a spec file."""
    spec = candidate_spec(target, "sglang")
    try:
        sglang_launch.launch_argv(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return spec


LaunchId = Annotated[str, typer.Option(help="candidate id")]
Image = Annotated[str, typer.Option(help="SGLang container image")]
Namespace = Annotated[str, typer.Option(help="Kubernetes namespace")]


@sglang_app.command("command")
@with_options
def command(target: CandidateOptions) -> None:
    """Print the sglang.launch_server command for a candidate spec (YAML or JSON file)."""
    typer.echo(sglang_launch.launch_command(sglang_spec(target)))


@sglang_app.command("manifest")
@with_options
def manifest(target: CandidateOptions, candidate_id: LaunchId, image: Image = sglang_launch.DEFAULT_IMAGE,
             namespace: Namespace = "challenger") -> None:
    """Print a Kubernetes Deployment + Service with /health probes."""
    typer.echo(sglang_launch.render_manifest(sglang_spec(target), candidate_id, image=image, namespace=namespace))


@sglang_app.command("start")
@with_output
@with_options
def start(target: CandidateOptions, candidate_id: LaunchId, *, out: Output) -> None:
    """Start SGLang locally for a candidate and wait for /health."""
    try:
        proc = sglang_launch.start_local(sglang_spec(target), candidate_id, DeployerSettings().home)
    except sglang_launch.SglangUnavailable as exc:
        fail(str(exc), 2)
    out.emit({"port": proc.port, "log": str(proc.log_path)}, f"healthy on port {proc.port} (log {proc.log_path})")


@sglang_app.command("stop")
@with_output
def stop(candidate_id: CandidateId, out: Output) -> None:
    """Stop a locally started SGLang server."""
    stopped = sglang_launch.stop_local(candidate_id, DeployerSettings().home)
    out.emit({"stopped": stopped}, "stopped" if stopped else "was not running")


def register(app: typer.Typer) -> None:
    for name, (_, what) in MOVES.items():
        app.command(name, help=f"{what[0].upper()}{what[1:]}; an illegal move is refused with the reason.")(
            bind(move, "command", name))
    app.add_typer(deployer_app, name="deployer")
    app.add_typer(policy_app, name="policy")
    app.add_typer(sglang_app, name="sglang")
