"""Registry commands of the `challenger` CLI. Each talks to the registry over HTTP
(CHALLENGER_REGISTRY_URL) with CHALLENGER_TOKEN, else the admin token in $CHALLENGER_HOME."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from services.cli.admin_token import read_admin_token
from shared.settings import Settings

console = Console()
token_app = typer.Typer(help="API tokens (admin only).", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets: JSONL files of schemas.task.DatasetItem.", no_args_is_help=True)


def api() -> httpx.Client:
    settings = Settings()
    token = settings.token or read_admin_token(settings.home.resolve())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{settings.registry_url.rstrip('/')}/api/v1", headers=headers, timeout=30)


def call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        with api() as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]✗ cannot reach the registry at {Settings().registry_url}: {exc}[/]")
        raise typer.Exit(2) from exc
    if response.is_error:
        _print_error(response)
        raise typer.Exit(1)
    return response.json() if response.content else None


def _print_error(response: httpx.Response) -> None:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):
        detail = "\n".join(f"  {e.get('field')}: {e.get('reason')}" for e in detail)
        console.print(f"[red]✗ HTTP {response.status_code}, invalid input:[/]\n{detail}")
    else:
        console.print(f"[red]✗ HTTP {response.status_code}: {detail}[/]")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def submit(file: Annotated[Path, typer.Argument(exists=True, readable=True, help="candidate YAML or JSON")]) -> None:
    """Submit a candidate (a CandidateSpec in YAML or JSON)."""
    kind = "application/json" if file.suffix == ".json" else "application/yaml"
    created = call("POST", "/candidates", content=file.read_bytes(), headers={"Content-Type": kind})
    console.print(f"[green]✓ submitted {created['name']} as {created['id']}[/] (stage {created['stage']})")


def candidates(stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
               task: Annotated[str | None, typer.Option(help="only this task")] = None,
               tag: Annotated[str | None, typer.Option(help="key or key=value")] = None) -> None:
    """List candidates, newest first."""
    rows = call("GET", "/candidates", params={k: v for k, v in {"stage": stage, "task": task, "tag": tag}.items() if v})
    console.print(table("candidates", ["id", "name", "task", "stage", "engine", "model", "by", "created"],
                        [[c["id"], c["name"], c["task"], c["stage"], c["spec"]["engine"], c["spec"]["model"],
                          c["submitted_by"], c["created_at"][:19]] for c in rows]))


def show(candidate_id: Annotated[str, typer.Argument(help="candidate id")],
         as_json: Annotated[bool, typer.Option("--json", help="print the raw scorecard")] = False) -> None:
    """Show a candidate's scorecard: spec, stage history, results, canary steps, degradations."""
    card = call("GET", f"/candidates/{candidate_id}/scorecard")
    if as_json:
        console.print_json(json.dumps(card))
        return
    c = card["candidate"]
    champion = " [bold yellow](champion)[/]" if card["is_champion"] else ""
    console.print(f"[bold]{c['name']}[/] {c['id']}{champion}  task {c['task']}  stage [bold]{c['stage']}[/]  "
                  f"by {c['submitted_by']}  parent {c['parent_id'] or '-'}")
    console.print(table("stage history", ["when", "from", "to", "who", "why"],
                        [[h["at"][:19], h["from_stage"], h["to_stage"], h["actor"], h["reason"]]
                         for h in card["stage_history"]]))
    latest = [card[k] | {"kind": k} for k in ("evaluation", "loadtest", "prompt_optimization") if card[k]]
    events = latest + [r | {"kind": k} for k in ("deployments", "canary_steps", "fallbacks", "degradations")
                       for r in card[k]]
    console.print(table("results", ["when", "kind", "run", "status", "summary"],
                        [[r["at"][:19], r["kind"], r["run_id"], r["status"], r["summary"]] for r in events]))
    approvals = ", ".join(a["approver"] for a in card["approvals"]) or "none"
    console.print(f"approvals: {approvals}   captured samples: {card['captured_samples']}   "
                  f"derived: {', '.join(card['children']) or 'none'}")


def tasks() -> None:
    """List tasks with their metric and champion."""
    rows = call("GET", "/tasks")
    console.print(table("tasks", ["name", "metric", "style", "champion", "template"],
                        [[t["name"], t["metric"], t["prompt_style"], t["champion_id"],
                          t["prompt_template"].replace("\n", " ")[:60]] for t in rows]))


def approve(candidate_id: Annotated[str, typer.Argument(help="candidate id")],
            comment: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Approve a candidate (approver role; not its own submitter)."""
    result = call("POST", f"/candidates/{candidate_id}/approve", json={"comment": comment})
    console.print(f"[green]✓ approved by {result['approver']}[/]; stage {result['stage']}")


def transition(candidate_id: Annotated[str, typer.Argument(help="candidate id")],
               stage: Annotated[str, typer.Argument(help="target stage")],
               reason: Annotated[str, typer.Option(help="why (kept in the stage history)")] = "") -> None:
    """Move a candidate to STAGE, if the pipeline allows it."""
    moved = call("POST", f"/candidates/{candidate_id}/transition", json={"to_stage": stage, "reason": reason})
    console.print(f"[green]✓ {moved['id']} is now {moved['stage']}[/]")


def retire(candidate_id: Annotated[str, typer.Argument(help="candidate id")],
           reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Retire a candidate (its submitter or an operator)."""
    moved = call("POST", f"/candidates/{candidate_id}/retire", json={"reason": reason})
    console.print(f"[green]✓ {moved['id']} retired[/]")


@token_app.command("create")
def token_create(role: Annotated[str, typer.Option(help="submitter | approver | operator | admin")],
                 name: Annotated[str | None, typer.Option(help="who holds it (default: the role)")] = None) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    created = call("POST", "/tokens", json={"name": name or role, "role": role})
    console.print(f"token for {created['name']} ({created['role']}): [bold]{created['token']}[/]")


@dataset_app.command("upload")
def dataset_upload(file: Annotated[Path, typer.Argument(exists=True, readable=True, help="JSONL file")],
                   task: Annotated[str, typer.Option(help="task name")],
                   kind: Annotated[str, typer.Option(help="golden | silver | regression | redteam")] = "golden",
                   name: Annotated[str | None, typer.Option(help="dataset name (default TASK-KIND)")] = None) -> None:
    """Upload a JSONL dataset; every line is validated."""
    params = {"task": task, "kind": kind} | ({"name": name} if name else {})
    with file.open("rb") as f:
        created = call("POST", "/datasets", data=params, files={"file": (file.name, f)})
    console.print(f"[green]✓ {created['name']} {created['id']}[/]: {created['items']} items, "
                  f"version {created['version'][:12]}")


@dataset_app.command("list")
def dataset_list(task: Annotated[str | None, typer.Option(help="only this task")] = None) -> None:
    """List datasets."""
    rows = call("GET", "/datasets", params={"task": task} if task else {})
    console.print(table("datasets", ["id", "task", "name", "kind", "items", "version", "used by"],
                        [[d["id"], d["task"], d["name"], d["kind"], d["items"], d["version"][:12], d["used_by"]]
                         for d in rows]))


def doctor(as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON only")] = False) -> None:
    """Compare the registry's champions and stages with what every gateway serves; exit 1 when
    they disagree (every mismatch is listed in words), 2 when the registry cannot be asked."""
    err = Console(stderr=True)
    try:
        with api() as client:
            response = client.get("/consistency")
        response.raise_for_status()
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        err.print(f"[red]✗ cannot run the consistency check at {Settings().registry_url}: {exc}[/]")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)
    if not report["ok"]:
        raise typer.Exit(1)


def _print_report(report: dict[str, Any]) -> None:
    gateways = ", ".join(report["gateways"]) or "none configured"
    for problem in report["problems"]:
        console.print(f"[red]✗[/] {problem['message']}")
    for note in report["notes"]:
        console.print(f"[dim]·[/] {note['message']}")
    verdict = "[green]✓ consistent[/]" if report["ok"] else f"[red]✗ {len(report['problems'])} mismatch(es)[/]"
    console.print(f"{verdict}: the registry against the gateways ({gateways})")


def register(app: typer.Typer) -> None:
    for command in (submit, candidates, show, tasks, approve, transition, retire, doctor):
        app.command()(command)
    app.add_typer(token_app, name="token")
    app.add_typer(dataset_app, name="dataset")
