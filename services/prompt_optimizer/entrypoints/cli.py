"""`challenger optimize` and `challenger search`: a prompt optimization or a configuration
search by hand against model URLs, with live progress; the same runs the service does for
`prompt_optimization.requested` and `config_search.requested`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
import yaml
from pydantic import ValidationError
from rich.live import Live
from rich.table import Table

from challenger.client.credentials import default_token
from schemas.candidate import CandidateSpec, Decoding
from schemas.events.prompts import (
    Budget,
    ConfigSearchCompleted,
    ConfigSearchRequested,
    PromptOptimizationRequested,
    PromptOptimized,
)
from schemas.task import DatasetItem
from services.cli.option_groups import OptionGroup, with_options
from services.cli.options import (
    CandidateOptions,
    PromptOptions,
    candidate_spec,
    load_candidate,
    parse_legacy_pair,
    prompt_shape,
    warn,
)
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.prompt_optimizer.adapters.registry import RegistryError, start_and_wait
from services.prompt_optimizer.domain.budget import BudgetExhausted
from services.prompt_optimizer.domain.halving import Arm
from services.prompt_optimizer.domain.trials import Trial
from services.prompt_optimizer.handlers import config_store, prompt_store, run_config_search, run_optimization
from shared.datasets import BUILTIN_TASKS, load_builtin, parse_jsonl
from shared.engines import EngineError
from shared.settings import Settings

T = TypeVar("T")


TRIALS = [Column("id", key=True), Column("round", drop=3), Column("origin", drop=2), Column("split"),
          Column("score"), Column("prompt tok", drop=4), Column("ms", drop=5), Column("instruction / demos", drop=1)]


class LiveTrials:
    """A table that grows by one row per scored variant (a live view on stderr)."""

    def __init__(self, live: Live, out: Output) -> None:
        self.live, self.out = live, out
        self.rows: list[Trial] = []

    def __call__(self, trial: Trial) -> None:
        self.rows.append(trial)
        self.live.update(self.render(self.live.console.width))

    def render(self, width: int | None = None) -> Table:
        return self.out.table("prompt variants", TRIALS, [
            [r.variant.id, str(r.variant.round), r.variant.origin, r.split, f"{r.mean:.3f}", f"{r.input_tokens:.0f}",
             f"{r.latency_ms:.0f}", f"{r.variant.instruction} (+{len(r.variant.demos)} demos)"] for r in self.rows],
            width)


def _summary(result: PromptOptimized) -> list[str]:
    lines = [("ACCEPTED: " if result.accepted else "NOT PROMOTED: ") + result.reason,
             f"held-out score before {result.baseline_score:.3f}, after {result.best_score:.3f}, "
             f"p-value {result.p_value if result.p_value is not None else 'n/a'}",
             f"stopped: {result.stopped}; spent: {result.spent}", f"report: {result.report_path}"]
    return lines + ([f"new prompt template:\n{result.prompt_template}"] if result.prompt_template else [])


def _items(task: str, dataset: Path | None, limit: int | None) -> list[DatasetItem]:
    items = parse_jsonl(dataset.read_bytes()) if dataset else load_builtin(task)
    return items[:limit] if limit else items


RUNGS = [Column("id", key=True), Column("rung"), Column("n"), Column("accuracy"), Column("p95 ms", drop=1),
         Column("config")]


class LiveRungs:
    """One row per variant, updated as each successive-halving rung completes (a live view on stderr)."""

    def __init__(self, live: Live, out: Output) -> None:
        self.live, self.out = live, out
        self.rows: dict[str, tuple[int, Arm]] = {}

    def __call__(self, rung: int, arms: list[Arm]) -> None:
        self.rows.update({a.variant.id: (rung, a) for a in arms})
        self.live.update(self.render(self.live.console.width))

    def render(self, width: int | None = None) -> Table:
        ranked = sorted(self.rows.items(), key=lambda kv: (-kv[1][0], -kv[1][1].accuracy))
        return self.out.table("configuration variants (successive halving)", RUNGS, [
            [vid, str(rung), str(len(a.scores)), f"{a.accuracy:.3f}", f"{a.p95_ms:.0f}", a.variant.label()]
            for vid, (rung, a) in ranked], width)


def load_search_spec(path: Path) -> tuple[ConfigSearchRequested, list[DatasetItem]]:
    """SPEC.yaml: candidate (a CandidateSpec), task (a built-in name), optional dataset (JSONL
    path) and limit, space, budget, optional run_id."""
    raw = yaml.safe_load(path.read_text()) or {}
    task = str(raw.get("task", ""))
    if task not in BUILTIN_TASKS:
        raise typer.BadParameter(f"task must be a built-in task ({', '.join(BUILTIN_TASKS)}), got {task!r}")
    dataset = raw.get("dataset")
    items = _items(task, path.parent / dataset if dataset else None, raw.get("limit"))
    candidate = {"task": task, **raw.get("candidate", {})}
    try:
        req = ConfigSearchRequested(
            run_id=str(raw.get("run_id") or f"cli-{uuid.uuid4().hex[:10]}"), candidate_id="cli",
            candidate=CandidateSpec.model_validate(candidate), task_spec=BUILTIN_TASKS[task].spec,
            space=raw.get("space", {}), budget=Budget.model_validate(raw.get("budget", {})))
    except ValidationError as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc
    return req, items


def _search_summary(done: ConfigSearchCompleted) -> list[str]:
    lines = [done.reason]
    if done.recommended is not None:
        rec = done.recommended
        d, post = rec.decoding, [s.op for s in rec.postprocess]
        lines.append(f"recommended: {rec.name} temperature={d.temperature} top_p={d.top_p} "
                     f"max_tokens={d.max_tokens} stop={d.stop} post={post}")
    return [*lines, f"report: {done.report_path}"]


async def via_registry(candidate_id: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST the search to the registry (it publishes `config_search.requested`), then poll the result."""
    settings = Settings()
    log = progress_console()
    return await start_and_wait(settings.registry_url, candidate_id, body, default_token(settings), timeout=timeout,
                                on_start=lambda run: log.print(f"requested {run['run_id']}; waiting for the "
                                                               "prompt optimizer's result", markup=False))


def _registry_summary(out: Output, done: dict[str, Any]) -> list[Any]:
    columns = [Column("variant", key=True), Column("n"), Column("accuracy [95% CI]"), Column("p95 ms", drop=2),
               Column(done.get("cost_unit") or "cost", drop=3), Column("", drop=1), Column("candidate", key=True)]
    rows = [[v["variant"], str(v["n"]), f"{v['accuracy']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]",
             f"{v['p95_ms']:.0f}", f"{v['cost']:.4g}",
             " ".join(m for m in ("recommended", "frontier", "finalist") if v.get(m)), v.get("candidate_id")]
            for v in sorted(done.get("variants", []), key=lambda v: (-v["n"], -v["accuracy"]))]
    return [out.table(f"configuration search {done['run_id']} ({done['status']})", columns, rows),
            done.get("reason", ""), f"report: {done.get('report_path')}"]


SearchSpec = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="SPEC.yaml of the search")]
Registered = Annotated[str | None, typer.Option(
    help="go through the registry/stack: search this REGISTERED candidate (the spec's space and budget; its "
         "candidate and task are the registry's); without it the search runs here")]
SubmitRecommended = Annotated[bool, typer.Option(help="with --candidate: enter the recommendation into the pipeline")]
Wait = Annotated[float, typer.Option(help="with --candidate: seconds to wait for the result")]


@with_output
def search(spec: SearchSpec, candidate: Registered = None, submit_recommended: SubmitRecommended = False,
           timeout: Wait = 3600, *, out: Output) -> None:
    """Search decoding x post-processing x endpoints by successive halving within a budget;
    report the accuracy/stability/latency/cost frontier and a recommendation."""
    if candidate is not None:
        raw = yaml.safe_load(spec.read_text()) or {}
        body = {"space": raw.get("space", {}), "budget": raw.get("budget", {}),
                "submit_recommended": submit_recommended}
        found = _run(via_registry(candidate, body, timeout))
        out.emit(found, *_registry_summary(out, found))
        raise typer.Exit(0 if found.get("status") == "completed" else 1)
    req, items = load_search_spec(spec)
    with Live(console=progress_console(), refresh_per_second=4, transient=True) as live:
        rungs = LiveRungs(live, out)
        report_dir = config_store(Settings().reports_dir).run_dir(req.run_id)
        done = _run(run_config_search(req, items, report_dir, on_rung=rungs))
    out.emit(done, rungs.render(), *_search_summary(done))


@dataclass(frozen=True)
class Optimizer(OptionGroup):
    """The model that proposes instructions: --optimizer MODEL@URL (or a spec file)."""

    optimizer: Annotated[str | None, typer.Option(
        help="optimizer model (OPRO proposals): spec file (YAML/JSON), or MODEL@URL")] = None
    optimizer_url: Annotated[str | None, typer.Option(hidden=True, help="deprecated: --optimizer MODEL@URL")] = None
    optimizer_model: Annotated[str | None, typer.Option(hidden=True, help="deprecated: --optimizer MODEL@URL")] = None

    def spec(self, task: str) -> CandidateSpec | None:
        legacy = parse_legacy_pair("optimizer", self.optimizer_url, self.optimizer_model, "smollm2")
        warn(legacy.deprecated)
        value = self.optimizer or legacy.value
        return load_candidate(value, task, "--optimizer") if value else None


@dataclass(frozen=True)
class Search(OptionGroup):
    """The search: its strategy, rounds and answers."""

    strategy: Annotated[str, typer.Option(help="instruction | fewshot | combined")] = "combined"
    rounds: Annotated[int, typer.Option(help="search rounds")] = 3
    per_round: Annotated[int, typer.Option(help="new variants per strategy per round")] = 2
    shots: Annotated[int, typer.Option(help="demonstrations per few-shot variant")] = 4
    seed: Annotated[int, typer.Option(help="seed of the splits and the search")] = 0
    max_new_tokens: Annotated[int, typer.Option(help="max tokens of each answer")] = 8
    stop: Annotated[str, typer.Option(help="stop sequence of answers ('\\n' = newline; '' for none)")] = "\\n"

    def decoding(self, base: Decoding) -> Decoding:
        """`base` with this search's answer length and stop sequence."""
        stops = [self.stop.replace("\\n", "\n")] if self.stop else []
        return base.model_copy(update={"max_tokens": self.max_new_tokens, "stop": stops})


@dataclass(frozen=True)
class Limits(OptionGroup):
    """The budget: calls, tokens, seconds."""

    max_eval_calls: Annotated[int, typer.Option(help="budget: calls to the model being optimized")] = 500
    max_optimizer_calls: Annotated[int, typer.Option(help="budget: calls to the optimizer model")] = 20
    max_tokens: Annotated[int, typer.Option(help="budget: tokens in and out, both models")] = 500_000
    max_seconds: Annotated[float | None, typer.Option(help="budget: wall-clock seconds")] = None

    def budget(self) -> Budget:
        return Budget(max_optimizer_calls=self.max_optimizer_calls, max_eval_calls=self.max_eval_calls,
                      max_tokens=self.max_tokens, max_seconds=self.max_seconds)


OptimizeTask = Annotated[str, typer.Option(help=f"built-in task: {', '.join(BUILTIN_TASKS)}")]
Dataset = Annotated[Path | None, typer.Option(help="JSONL of DatasetItem instead of the built-in golden set")]
Limit = Annotated[int | None, typer.Option(help="use only the first N items (a quick run)")]


@with_output
@with_options
def optimize(model: CandidateOptions, task: OptimizeTask = "sentiment", dataset: Dataset = None, limit: Limit = None,
             *, prompt: PromptOptions, optimizer: Optimizer, search: Search, limits: Limits, out: Output) -> None:
    """Optimize a prompt (OPRO instructions and/or few-shot demos) and prove it on held-out data."""
    task_spec = BUILTIN_TASKS[task].spec.model_copy(update=prompt_shape(prompt).given())
    cand = candidate_spec(model, task, default_model="gemma3")
    cand = cand.model_copy(update={"name": f"{cand.model}-cli", "decoding": search.decoding(cand.decoding)})
    req = PromptOptimizationRequested(
        run_id=f"cli-{uuid.uuid4().hex[:10]}", candidate_id="cli", task=task, candidate=cand, task_spec=task_spec,
        optimizer=optimizer.spec(task), strategy=_strategy(search.strategy), seed=search.seed,
        max_rounds=search.rounds, candidates_per_round=search.per_round, shots=search.shots,
        budget=limits.budget())
    with Live(console=progress_console(), refresh_per_second=4, transient=True) as live:
        trials = LiveTrials(live, out)
        live.update(trials.render(live.console.width))
        report_dir = prompt_store(Settings().reports_dir).run_dir(req.run_id)
        result = _run(run_optimization(req, _items(task, dataset, limit), report_dir, on_trial=trials))
    out.emit(result, trials.render(), *_summary(result))


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("optimize")(optimize)


def _run(job: Coroutine[Any, Any, T]) -> T:
    """Run a job; a model or registry that cannot be reached or a bad request is one red line, exit code 1."""
    try:
        return asyncio.run(job)
    except (EngineError, ValueError, BudgetExhausted, RegistryError) as exc:
        fail(f"{type(exc).__name__}: {exc}")


def _strategy(name: str) -> Literal["instruction", "fewshot", "combined"]:
    if name not in ("instruction", "fewshot", "combined"):
        raise typer.BadParameter("strategy is one of instruction, fewshot, combined")
    return name  # type: ignore[return-value]
