"""Registry commands of the `challenger` CLI: thin functions over `challenger.client` (the registry's
REST API at CHALLENGER_REGISTRY_URL, with CHALLENGER_TOKEN or the admin token in $CHALLENGER_HOME).
The registry validates; a refusal prints its words and exits 1 (services/cli/output.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.text import Text

from challenger.client import Client
from schemas.candidate import CandidateSpec
from schemas.events.loadtests import TrafficUsed
from schemas.events.models import PolicyApplied
from services.cli.option_groups import bind, with_options
from services.cli.options import (
    CandidateOptions,
    PromptOptions,
    existing_file,
    load_spec,
    parse_candidate,
    prompt_shape,
    warn,
)
from services.cli.output import Column, Output, registry_errors, with_output
from services.deployer.domain.policy import applied_note, traffic_note
from services.registry.adapters.models import TaskPublic

token_app = typer.Typer(help="API tokens (admin only).", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets: JSONL files of schemas.task.DatasetItem.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks: what candidates are scored on (metric, prompt).", no_args_is_help=True)

T = TypeVar("T")
CandidateId = Annotated[str, typer.Argument(help="candidate id")]
TaskName = Annotated[str, typer.Argument(help="task name")]


def ask(request: Callable[[Client], T]) -> T:
    """One request to the registry; a refusal prints the registry's words and exits."""
    with registry_errors(), Client() as registry:
        return request(registry)


def _when(value: Any) -> str:
    return str(value)[:19].replace("T", " ")


SubmitTask = Annotated[str | None, typer.Option(help="the task of a MODEL@URL candidate (a file names its own)")]


@with_output
@with_options
def submit(candidate: CandidateOptions, task: SubmitTask = None, *, out: Output) -> None:
    """Submit a candidate: a CandidateSpec file (YAML or JSON, sent as written), or MODEL@URL with --task."""
    created = ask(lambda r: r.submit(submission(candidate, task)))
    out.emit(created, f"✓ submitted {created.name} as {created.id} (stage {created.stage})")


def submission(candidate: CandidateOptions, task: str | None) -> bytes | CandidateSpec:
    """A file's bytes as written (the registry validates them and says what is wrong), or the spec."""
    parsed = parse_candidate(candidate)
    warn(parsed.deprecated)
    ref, shown = parsed.value, candidate.candidate or str(parsed.value.model)
    if ref.path is not None:
        return existing_file(ref.path, shown).read_bytes()
    if task is None:
        raise typer.BadParameter("a candidate given as MODEL@URL or --model/--model-url needs --task")
    return load_spec(ref, task, shown)


@with_output
def candidates(stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
               task: Annotated[str | None, typer.Option(help="only this task")] = None,
               tag: Annotated[str | None, typer.Option(help="key or key=value")] = None, *, out: Output) -> None:
    """List candidates, newest first."""
    rows = ask(lambda r: r.candidates(stage=stage, task=task, tag=tag))
    columns = [Column("id", key=True), Column("name", key=True), Column("task"), Column("stage"),
               Column("engine", drop=4), Column("model", drop=3), Column("by", drop=5), Column("created", drop=2)]
    out.emit(rows, out.table("candidates", columns, [
        [c.id, c.name, c.task, c.stage, c.spec.get("engine"), c.spec.get("model"), c.submitted_by,
         _when(c.created_at)] for c in rows]))


@with_output
def show(candidate_id: CandidateId, out: Output) -> None:
    """Show a candidate's scorecard: spec, stage history, results, canary steps, degradations."""
    card = ask(lambda r: r.scorecard(candidate_id))
    c = card["candidate"]
    champion = " (champion)" if card["is_champion"] else ""
    history = out.table("stage history", [Column("when"), Column("from"), Column("to"), Column("who", drop=1),
                                          Column("why"), Column("policy judged", drop=2)],
                        [[_when(h["at"]), h["from_stage"], h["to_stage"], h["actor"], h["reason"],
                          applied_note(PolicyApplied.model_validate(h["policy"])) if h.get("policy") else None]
                         for h in card["stage_history"]])
    latest = [card[k] | {"kind": k} for k in ("evaluation", "loadtest", "prompt_optimization") if card[k]]
    events = latest + [r | {"kind": k} for k in ("deployments", "canary_steps", "fallbacks", "degradations")
                       for r in card[k]]
    results = out.table("results", [Column("when", drop=1), Column("kind"), Column("run", key=True),
                                    Column("status"), Column("summary")],
                        [[_when(r["at"]), r["kind"], r["run_id"], r["status"], r["summary"]] for r in events])
    approvals = ", ".join(a["approver"] + (" (void: evidence re-run)" if a.get("voided_at") else "")
                          for a in card["approvals"]) or "none"
    out.emit(card, Text.assemble((c["name"], "bold"), f" {c['id']}{champion}  task {c['task']}  stage ",
                                 (c["stage"], "bold"),
                                 f"  by {c['submitted_by']}{_on_behalf_of(c)}  parent {c['parent_id'] or '-'}"),
             history, results, *filter(None, [monthly_cost_line(card)]),
             f"approvals: {approvals}   captured samples: {card['captured_samples']}   "
             f"derived: {', '.join(card['children']) or 'none'}")


def monthly_cost_line(card: dict[str, Any]) -> str | None:
    """The latest load test's monthly cost, its delta against the champion, and its traffic's source."""
    lt = (card.get("loadtest") or {}).get("payload") or {}
    cost, traffic = lt.get("cost") or {}, lt.get("traffic")
    if cost.get("monthly_usd") is None or not traffic:
        return None
    delta = cost.get("delta_monthly_usd")
    vs = f" ({delta:+,.2f} vs champion)" if delta is not None else ""
    return f"monthly cost: ${cost['monthly_usd']:,.2f}{vs} at {traffic_note(TrafficUsed.model_validate(traffic))}"


def _on_behalf_of(candidate: dict[str, Any]) -> str:
    root = candidate.get("root_submitted_by")
    return f" for {root}" if root and root != candidate["submitted_by"] else ""


@with_output
def tasks(out: Output) -> None:
    """List tasks with their metric and champion."""
    rows = ask(lambda r: r.tasks())
    columns = [Column("name", key=True), Column("metric"), Column("style", drop=2), Column("champion", key=True),
               Column("template", drop=1)]
    out.emit(rows, out.table("tasks", columns, [[t.name, t.metric, t.prompt_style, t.champion_id,
                                                 t.prompt_template] for t in rows]))


@with_output
def approve(candidate_id: CandidateId, comment: Annotated[str, typer.Option(help="why")] = "", *,
            out: Output) -> None:
    """Approve a candidate (approver role; not its own submitter)."""
    result = ask(lambda r: r.approve(candidate_id, comment))
    out.emit(result, f"✓ approved by {result.approver}; stage {result.stage}")


@with_output
def transition(candidate_id: CandidateId, stage: Annotated[str, typer.Argument(help="target stage")],
               reason: Annotated[str, typer.Option(help="why (kept in the stage history)")] = "", *,
               out: Output) -> None:
    """Move a candidate to STAGE, if the pipeline allows it."""
    moved = ask(lambda r: r.transition(candidate_id, stage, reason))
    out.emit(moved, f"✓ {moved.id} is now {moved.stage}")


@with_output
def retire(candidate_id: CandidateId, reason: Annotated[str, typer.Option(help="why")] = "", *,
           out: Output) -> None:
    """Retire a candidate (its submitter or an operator)."""
    moved = ask(lambda r: r.retire(candidate_id, reason))
    out.emit(moved, f"✓ {moved.id} retired")


@token_app.command("create")
@with_output
def token_create(role: Annotated[str, typer.Option(help="submitter | approver | operator | admin")],
                 name: Annotated[str | None, typer.Option(help="who holds it (default: the role)")] = None, *,
                 out: Output) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    created = ask(lambda r: r.create_token(name or role, role))
    out.emit(created, f"token for {created.name} ({created.role}): {created.token}")


@dataset_app.command("upload")
@with_output
def dataset_upload(file: Annotated[Path, typer.Argument(exists=True, readable=True, help="JSONL file")],
                   task: Annotated[str, typer.Option(help="task name")],
                   kind: Annotated[str, typer.Option(help="golden | silver | regression | redteam")] = "golden",
                   name: Annotated[str | None, typer.Option(help="dataset name (default TASK-KIND)")] = None, *,
                   out: Output) -> None:
    """Upload a JSONL dataset; every line is validated."""
    created = ask(lambda r: r.upload_dataset(task, file.read_bytes(), kind=kind, name=name, filename=file.name))
    out.emit(created, f"✓ {created.name} {created.id}: {created.items} items, version {created.version}")


@dataset_app.command("list")
@with_output
def dataset_list(task: Annotated[str | None, typer.Option(help="only this task")] = None, *, out: Output) -> None:
    """List datasets."""
    rows = ask(lambda r: r.datasets(task=task))
    columns = [Column("id", key=True), Column("task"), Column("name", key=True), Column("kind"), Column("items"),
               Column("version", drop=2), Column("used by", drop=1)]
    out.emit(rows, out.table("datasets", columns, [[d.id, d.task, d.name, d.kind, d.items, d.version, d.used_by]
                                                   for d in rows]))


# ---- task create | update | show -------------------------------------------------------------

Metric = Annotated[str | None, typer.Option(help="exact_match | contains | regex | numeric | choice | json_valid | "
                                                 "json_schema | token_f1 | judge")]
MetricArgs = Annotated[str | None, typer.Option(help='the metric\'s arguments as JSON, e.g. \'{"labels": ["a"]}\'')]
Description = Annotated[str | None, typer.Option(help="what the task is for")]
Teacher = Annotated[str | None, typer.Option(help="candidate id whose answers label captured samples")]
Paraphraser = Annotated[str | None, typer.Option(help="candidate id that paraphrases labelled samples")]
Traffic = Annotated[str | None, typer.Option(help=(
    'traffic profile for the monthly cost, JSON: \'{"requests_per_month": 1e6, "input_tokens": 300, '
    '"output_tokens": 40}\'; \'null\' clears it'))]


def _json_option(value: str | None, option: str) -> Any:
    try:
        return json.loads(value) if value is not None else None
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint=option) from exc


def _task_fields(metric_args: str | None, traffic: str | None = None, **options: str | None) -> dict[str, Any]:
    """The options given, as the REST API's fields (same names); the registry validates them. A
    traffic profile given as 'null' is sent as null (it clears the task's profile)."""
    given = options | {"metric_args": _json_option(metric_args, "--metric-args")}
    fields = {k: v for k, v in given.items() if v is not None}
    return fields | ({"traffic": _json_option(traffic, "--traffic")} if traffic is not None else {})


def _task_view(out: Output, task: Any) -> Any:
    fields = task.model_dump(mode="json")
    rows = [[k, json.dumps(v) if isinstance(v, dict | list) else v] for k, v in fields.items()]
    return out.table(f"task {task.name}", [Column("field", key=True), Column("value")], rows)


TASK_SENDERS: dict[str, Callable[..., TaskPublic]] = {"create": Client.create_task, "update": Client.update_task}


@with_output
@with_options
def task_write(verb: str, name: TaskName, metric: Metric = None, metric_args: MetricArgs = None,
               description: Description = None, teacher_id: Teacher = None, paraphraser_id: Paraphraser = None,
               traffic: Traffic = None, *, prompt: PromptOptions, out: Output) -> None:
    """`task create` and `task update` (`verb`, bound when registered): the same options, sent to POST or PATCH."""
    fields = _task_fields(metric_args, traffic, metric=metric, description=description, teacher_id=teacher_id,
                          paraphraser_id=paraphraser_id, **prompt_shape(prompt).given())
    task = ask(lambda r: TASK_SENDERS[verb](r, name, **fields))
    out.emit(task, f"✓ {verb}d task {task.name}", _task_view(out, task))


task_app.command("create", help="Create a task (the same checks as POST /api/v1/tasks).")(
    bind(task_write, "verb", "create"))
task_app.command("update", help="Change the given fields of a task (the same checks as PATCH /api/v1/tasks/NAME).")(
    bind(task_write, "verb", "update"))


@task_app.command("show")
@with_output
def task_show(name: TaskName, out: Output) -> None:
    """Show a task: metric, prompt, champion."""
    task = ask(lambda r: r.task(name))
    out.emit(task, _task_view(out, task))


@with_output
def doctor(out: Output) -> None:
    """Compare the registry's champions and stages with what every gateway serves; exit 1 when
    they disagree (every mismatch is listed in words), 2 when the registry cannot be asked."""
    report = ask(lambda r: r.consistency())
    gateways = ", ".join(report["gateways"]) or "none configured"
    verdict = "✓ consistent" if report["ok"] else f"✗ {len(report['problems'])} mismatch(es)"
    out.emit(report, *(Text(f"✗ {p['message']}", style="red") for p in report["problems"]),
             *(Text(f"· {n['message']}", style="dim") for n in report["notes"]),
             Text(f"{verdict}: the registry against the gateways ({gateways})",
                  style="green" if report["ok"] else "red"))
    if not report["ok"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (submit, candidates, show, tasks, approve, transition, retire, doctor):
        app.command()(command)
    app.add_typer(token_app, name="token")
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(task_app, name="task")
