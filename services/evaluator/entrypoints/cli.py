"""`challenger eval` (a candidate vs a champion by hand, with a progress bar) and
`challenger dataset label` (a silver dataset from a teacher model)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import typer
import yaml
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.candidate import CandidateSpec, Engine
from schemas.events.evaluations import EvaluationCompleted, EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.evaluator.entrypoints import cli_garak
from services.evaluator.adapters.datasets import load_attacks
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.evaluation import EvaluationFailure, engines_for, evaluate
from services.evaluator.labelling import label_items
from shared.datasets import BUILTIN_TASKS, DatasetError, parse_jsonl
from shared.engines import client_for_spec
from shared.settings import Settings


def load_candidate(text: str, task: str) -> CandidateSpec:
    """A YAML/JSON CandidateSpec file, or the shorthand MODEL@URL (OpenAI-compatible)."""
    path = Path(text)
    try:
        if path.exists():
            data = yaml.safe_load(path.read_text()) or {}
            data.setdefault("task", task)
            return CandidateSpec.model_validate(data)
        model, sep, url = text.partition("@")
        if not sep:
            raise typer.BadParameter(f"{text!r} is neither a candidate file nor MODEL@URL")
        name = "".join(c if c.isalnum() or c in "._-" else "-" for c in model).strip("-.") or "candidate"
        return CandidateSpec(name=name, model=model, task=task, engine=Engine.openai, endpoint=url)
    except ValidationError as exc:
        raise typer.BadParameter(f"{text}: {exc}") from exc


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
                 template: str | None, style: str | None, system: str | None) -> tuple[TaskSpec, dict]:
    """A built-in task (its golden set unless --dataset is given) or one described by flags."""
    if task and task in BUILTIN_TASKS:
        builtin = BUILTIN_TASKS[task]
        spec, files = builtin.spec, datasets or [builtin.golden_path]
    elif datasets:
        spec, files = TaskSpec(name=task or datasets[0].stem), datasets
    else:
        raise typer.BadParameter(f"give --dataset FILE, or --task with one of: {', '.join(BUILTIN_TASKS)}")
    update: dict = {k: v for k, v in (("metric", metric), ("prompt_template", template), ("prompt_style", style),
                                      ("system_prompt", system)) if v}
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


def register(app: typer.Typer) -> None:
    cli_garak.register(app)
    @app.command("eval")
    @with_output
    def eval_cmd(
        candidate: str = typer.Argument(..., help="candidate YAML/JSON file, or MODEL@URL (OpenAI-compatible)"),
        champion: str = typer.Option(None, help="champion YAML/JSON file, or MODEL@URL"),
        task: str = typer.Option(None, help=f"built-in task ({', '.join(BUILTIN_TASKS)}) or a name for --dataset"),
        dataset: list[Path] = typer.Option(None, help="JSONL dataset file(s) {id, input, expected, metadata}"),
        metric: str = typer.Option(None, help="exact_match|contains|regex|numeric|choice|json_valid|json_schema|"
                                              "token_f1|judge (default: the task's)"),
        labels: str = typer.Option(None, help="labels for --metric choice, comma separated"),
        template: str = typer.Option(None, help="prompt template over the item's fields, e.g. 'Q: {input}'"),
        style: str = typer.Option(None, help="chat | completion"),
        system: str = typer.Option(None, help="system prompt"),
        kinds: str = typer.Option("accuracy", help="comma separated: accuracy,stability,security,e2e"),
        repeats: int = typer.Option(3, help="stability repeats per item"),
        temperature: float = typer.Option(0.7, help="stability temperature"),
        concurrency: int = typer.Option(8, help="concurrent requests per endpoint"),
        max_items: int = typer.Option(None, help="use only the first N items of each dataset"),
        attacks: Path = typer.Option(None, help="extra red-team attacks (JSONL) for the security kind"),
        reports: Path = typer.Option(None, "--out", help="reports directory (default $CHALLENGER_HOME/reports)"),
        max_tokens: int = typer.Option(None, help="override both sides' decoding.max_tokens"),
        timeout: float = typer.Option(60.0, help="seconds per model call (slow CPU servers queue requests)"),
        run_id: str = typer.Option(None, "--id", help="evaluation id; repeat it to resume an interrupted run"),
        *, out: Output,
    ) -> None:
        """Evaluate a candidate against a champion on the same items and print the comparison."""
        spec, datasets = resolve_task(task, dataset or [], metric, labels, template, style, system)
        datasets = {k: v[:max_items] for k, v in datasets.items()}
        kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
        try:
            req = EvaluationRequested(
                evaluation_id=run_id or f"cli-{uuid.uuid4().hex[:12]}", candidate_id="cli-candidate", task=spec.name,
                candidate=with_max_tokens(load_candidate(candidate, spec.name), max_tokens), task_spec=spec,
                kinds=kind_list, champion=with_max_tokens(load_candidate(champion, spec.name), max_tokens) if champion
                else None,
                champion_id="cli-champion" if champion else None, stability_repeats=repeats,
                stability_temperature=temperature, concurrency=concurrency)
        except ValidationError as exc:
            raise typer.BadParameter(str(exc)) from exc
        extra = load_items(attacks) if attacks else None
        try:
            adversarial = load_attacks(spec, extra) if "security" in kind_list else []
        except DatasetError as exc:
            raise typer.BadParameter(str(exc)) from exc
        done = asyncio.run(_run_eval(req, datasets, adversarial, reports or Settings().reports_dir, timeout))
        out.emit(done, scorecard(out, done), *_extras(done))

    dataset_app = _group(app, "dataset", "Datasets: label silver data with a teacher model.")

    @dataset_app.command("label")
    @with_output
    def label_cmd(
        source: Path = typer.Argument(..., help="input JSONL {id, input, ...}"),
        target: Path = typer.Argument(..., help="output JSONL with `expected` from the teacher"),
        teacher: str = typer.Option(..., help="teacher candidate YAML/JSON file, or MODEL@URL"),
        task: str = typer.Option(None, help="built-in task whose prompt and labels to use"),
        labels: str = typer.Option(None, help="labels to extract (classification), comma separated"),
        template: str = typer.Option(None, help="prompt template, e.g. 'Q: {input}'"),
        concurrency: int = typer.Option(8, help="concurrent requests"),
        *, out: Output,
    ) -> None:
        """Make a silver dataset: the teacher answers every item; each item records labelled_by."""
        spec, _ = resolve_task(task if task in BUILTIN_TASKS else None, [source], "choice" if labels else None,
                               labels, template, None, None)
        items = load_items(source)
        spec_teacher = load_candidate(teacher, spec.name)
        labelled, skipped = asyncio.run(_label(spec_teacher, spec, items, concurrency))
        target.write_text("".join(i.model_dump_json() + "\n" for i in labelled))
        out.emit({"path": str(target), "items": len(labelled), "labelled_by": spec_teacher.name, "skipped": skipped},
                 f"wrote {len(labelled)} items to {target} (labelled_by {spec_teacher.name}); "
                 f"{skipped} skipped (teacher failed or named no label)")


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

