"""`challenger eval` (a candidate vs a champion by hand, with a progress bar) and
`challenger dataset label` (a silver dataset from a teacher model)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted, EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.cli.option_groups import OptionGroup, with_options
from services.cli.options import (
    CandidateOptions,
    PromptOptions,
    PromptShape,
    candidate_spec,
    load_candidate,
    prompt_shape,
)
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.evaluator.adapters.datasets import load_attacks
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.checks import EvaluationFailure
from services.evaluator.entrypoints import cli_garak
from services.evaluator.handlers.evaluation import evaluate
from services.evaluator.handlers.labelling import label_items
from shared.datasets import BUILTIN_TASKS, DatasetError, parse_jsonl
from shared.engines import client_for_spec
from shared.settings import Settings


def with_max_tokens(spec: CandidateSpec, max_tokens: int | None) -> CandidateSpec:
    if max_tokens is None:
        return spec
    return spec.model_copy(update={"decoding": spec.decoding.model_copy(update={"max_tokens": max_tokens})})


def load_items(path: Path) -> list[DatasetItem]:
    try:
        return parse_jsonl(path.read_bytes())
    except (OSError, DatasetError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc


def resolve_task(task: str | None, datasets: list[Path], metric: str | None, labels: str | None,
                 prompt: PromptShape) -> tuple[TaskSpec, dict]:
    """A built-in task (its golden set unless --dataset is given) or one described by flags."""
    if task and task in BUILTIN_TASKS:
        builtin = BUILTIN_TASKS[task]
        spec, files = builtin.spec, datasets or [builtin.golden_path]
    elif datasets:
        spec, files = TaskSpec(name=task or datasets[0].stem), datasets
    else:
        raise typer.BadParameter(f"give --dataset FILE, or --task with one of: {', '.join(BUILTIN_TASKS)}")
    update: dict = prompt.given() | ({"metric": metric} if metric else {})
    if labels:
        update["metric_args"] = {**spec.metric_args, "labels": [x.strip() for x in labels.split(",") if x.strip()]}
    try:
        spec = TaskSpec.model_validate({**spec.model_dump(), **update})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return spec, {p.stem: load_items(p) for p in files}


def _progress() -> Progress:
    """On stderr: stdout carries only the result."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=progress_console())


SCORECARD = [Column("dataset", key=True), Column("metric"), Column("n", justify="right"),
             Column("candidate", justify="right"), Column("champion", justify="right", drop=4),
             Column("diff", justify="right"), Column("95% CI"), Column("test", drop=2),
             Column("p (Holm)", justify="right", drop=3), Column("MDE", justify="right", drop=1), Column("verdict")]


def scorecard(out: Output, done: EvaluationCompleted) -> Table:
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    rows = [[c.dataset, c.metric, str(c.n), f(c.candidate_score), f(c.champion_score), f(c.difference),
             f"[{f(c.ci_low)}, {f(c.ci_high)}]" if c.ci_low is not None else "-", c.test or "-", f(c.p_adjusted),
             f(c.mde), c.verdict or "-"] for c in done.accuracy]
    return out.table(f"evaluation {done.evaluation_id}: verdict {done.verdict or '-'}", SCORECARD, rows)


def _extras(done: EvaluationCompleted) -> list[str]:
    lines = []
    if s := done.stability:
        kappa = s.fleiss_kappa if s.fleiss_kappa is None else round(s.fleiss_kappa, 3)
        lines.append(f"stability (k={s.repeats}): agreement {s.mean_agreement:.3f}, exact-match consistency "
                     f"{s.exact_match_consistency:.3f}, Fleiss' kappa {kappa}, "
                     f"accuracy spread {s.accuracy_spread:.3f}, flipping items {len(s.flipping_items)}")
        lines.append(f"stability seeds: {s.seeding or '-'}")
    if sec := done.security:
        cats = ", ".join(f"{k} {v:.0%}" for k, v in sec.by_category.items())
        lines.append(f"red team: {sec.attacks} attacks, success rate {sec.attack_success_rate:.0%} ({cats})")
    if done.tokens:
        lines.append(f"tokens: {done.tokens.model_dump()}")
    return [*lines, f"report: {done.report_path}"]


@dataclass(frozen=True)
class EvalRun(OptionGroup):
    """What `eval` measures and how hard it pushes."""

    kinds: Annotated[str, typer.Option(help="comma separated: accuracy,stability,security,e2e")] = "accuracy"
    repeats: Annotated[int, typer.Option(help="stability repeats per item")] = 3
    temperature: Annotated[float, typer.Option(help="stability temperature")] = 0.7
    concurrency: Annotated[int, typer.Option(help="concurrent requests per endpoint")] = 8
    max_items: Annotated[int | None, typer.Option(help="use only the first N items of each dataset")] = None
    attacks: Annotated[Path | None, typer.Option(help="extra red-team attacks (JSONL) for the security kind")] = None
    reports: Annotated[Path | None, typer.Option(
        "--out", help="reports directory (default $CHALLENGER_HOME/reports)")] = None
    max_tokens: Annotated[int | None, typer.Option(help="override both sides' decoding.max_tokens")] = None
    timeout: Annotated[float, typer.Option(help="seconds per model call (slow CPU servers queue requests)")] = 60.0
    run_id: Annotated[str | None, typer.Option(
        "--id", help="evaluation id; repeat it to resume an interrupted run")] = None

    def kind_list(self) -> list[str]:
        return [k.strip() for k in self.kinds.split(",") if k.strip()]


Champion = Annotated[str | None, typer.Option(help="champion spec file (YAML/JSON), or MODEL@URL")]
TaskOption = Annotated[str | None, typer.Option(
    help=f"built-in task ({', '.join(BUILTIN_TASKS)}) or a name for --dataset")]
Datasets = Annotated[list[Path] | None, typer.Option(
    "--dataset", help="JSONL dataset file(s) {id, input, expected, metadata}")]
Metric = Annotated[str | None, typer.Option(help="exact_match|contains|regex|numeric|choice|json_valid|json_schema|"
                                                 "token_f1|judge (default: the task's)")]
Labels = Annotated[str | None, typer.Option(help="labels for --metric choice, comma separated")]


@with_output
@with_options
def eval_cmd(candidate: CandidateOptions, champion: Champion = None, task: TaskOption = None,
             dataset: Datasets = None, metric: Metric = None, labels: Labels = None, *,
             prompt: PromptOptions, run: EvalRun, out: Output) -> None:
    """Evaluate a candidate against a champion on the same items and print the comparison."""
    spec, datasets = resolve_task(task, dataset or [], metric, labels, prompt_shape(prompt))
    datasets = {k: v[:run.max_items] for k, v in datasets.items()}
    ours = with_max_tokens(candidate_spec(candidate, spec.name), run.max_tokens)
    theirs = with_max_tokens(load_candidate(champion, spec.name, "--champion"), run.max_tokens) if champion else None
    try:
        req = EvaluationRequested(
            evaluation_id=run.run_id or f"cli-{uuid.uuid4().hex[:12]}", candidate_id="cli-candidate",
            task=spec.name, candidate=ours, task_spec=spec, kinds=run.kind_list(), champion=theirs,
            champion_id="cli-champion" if champion else None, stability_repeats=run.repeats,
            stability_temperature=run.temperature, concurrency=run.concurrency)
        adversarial = load_attacks(spec, load_items(run.attacks) if run.attacks else None) \
            if "security" in run.kind_list() else []
    except (ValidationError, DatasetError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    done = asyncio.run(_run_eval(req, datasets, adversarial, run.reports or Settings().reports_dir, run.timeout))
    out.emit(done, scorecard(out, done), *_extras(done))


Source = Annotated[Path, typer.Argument(help="input JSONL {id, input, ...}")]
Target = Annotated[Path, typer.Argument(help="output JSONL with `expected` from the teacher")]
Teacher = Annotated[str, typer.Option(help="teacher spec file (YAML/JSON), or MODEL@URL")]
LabelTask = Annotated[str | None, typer.Option(help="built-in task whose prompt and labels to use")]
Concurrency = Annotated[int, typer.Option(help="concurrent requests")]


@with_output
@with_options
def label_cmd(source: Source, target: Target, teacher: Teacher, task: LabelTask = None, labels: Labels = None,
              concurrency: Concurrency = 8, *, prompt: PromptOptions, out: Output) -> None:
    """Make a silver dataset: the teacher answers every item; each item records labelled_by."""
    spec, _ = resolve_task(task if task in BUILTIN_TASKS else None, [source], "choice" if labels else None,
                           labels, prompt_shape(prompt))
    items = load_items(source)
    spec_teacher = load_candidate(teacher, spec.name, "--teacher")
    labelled, skipped = asyncio.run(_label(spec_teacher, spec, items, concurrency))
    target.write_text("".join(i.model_dump_json() + "\n" for i in labelled))
    out.emit({"path": str(target), "items": len(labelled), "labelled_by": spec_teacher.name, "skipped": skipped},
             f"wrote {len(labelled)} items to {target} (labelled_by {spec_teacher.name}); "
             f"{skipped} skipped (teacher failed or named no label)")


def register(app: typer.Typer) -> None:
    cli_garak.register(app)
    app.command("eval")(eval_cmd)
    _group(app, "dataset", "Datasets: label silver data with a teacher model.").command("label")(label_cmd)


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """Reuse a command group another service already registered, or add it."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


async def _run_eval(req: EvaluationRequested, datasets: dict, attacks: list, reports: Path,
                    timeout_s: float) -> EvaluationCompleted:
    engines = engines_for(req, timeout_s=timeout_s)
    store = EvaluationStore(reports, req.evaluation_id)
    try:
        with _progress() as bar:
            job = bar.add_task(f"{req.candidate.name} vs {req.champion.name if req.champion else '-'}", total=None)
            return await evaluate(req, datasets, attacks, engines=engines, store=store,
                                  progress=lambda done, total: bar.update(job, completed=done, total=total))
    except EvaluationFailure as exc:
        fail(f"evaluation failed: {exc.reason}", 2)
    finally:
        await engines.aclose()


async def _label(teacher: CandidateSpec, task: TaskSpec, items: list[DatasetItem], concurrency: int):
    client = client_for_spec(teacher)
    try:
        with _progress() as bar:
            job = bar.add_task(f"labelling with {teacher.name}", total=len(items))
            return await label_items(client, teacher, task, items, concurrency=concurrency,
                                     progress=lambda done, total: bar.update(job, completed=done, total=total))
    finally:
        await client.aclose()

