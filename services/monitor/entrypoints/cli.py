"""`challenger samples label | export | augment | add-to-regression` (captured failing samples:
the people's labelling queue, training data, extra variants by hand) and `challenger monitor
reference` (a reference window from a chosen period)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from challenger.client import AsyncClient, RegistryError
from schemas import new_event
from schemas.events.degradations import SamplesAugmentationRequested
from services.cli.options import load_candidate
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.monitor.adapters.outbox import open_outbox
from services.monitor.adapters.store import MonitorStore
from services.monitor.domain.augment import METHODS
from services.monitor.domain.exports import FORMATS, export_rows, sample_row, sources
from services.monitor.domain.windows import WindowKey
from services.monitor.handlers.samples import add_to_regression, augment_samples, fill_chosen, load_samples
from shared.bus.producer import EventProducer
from shared.engines import EngineClient, client_for_spec
from shared.settings import Settings

console = progress_console()


def _registry() -> AsyncClient:
    return AsyncClient()


def _client(value: str, option: str) -> EngineClient:
    """A client for the candidate an option names (FILE or MODEL@URL; the old URL/MODEL still works)."""
    return client_for_spec(load_candidate(value, "samples", option))


def _write(rows: list[dict[str, Any]], output: Path | None) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


async def _load(candidate: str | None, input_path: Path | None) -> list:  # type: ignore[type-arg]
    registry = None if input_path else _registry()
    try:
        return await load_samples(registry=registry, candidate_id=candidate, input_path=input_path)
    finally:
        await registry.aclose() if registry else None


async def _export(fmt: str, candidate: str | None, input_path: Path | None, output: Path | None,
                  chosen_from: str | None) -> None:
    samples = await _load(candidate, input_path)
    if chosen_from:
        async with _client(chosen_from, "--chosen-from") as client:
            samples = await fill_chosen(samples, client)
    rows, skipped = export_rows(samples, fmt)
    _write(rows, output)
    origin = ", ".join(f"{n} from {source}" for source, n in sorted(sources(samples).items()))
    console.print(f"exported {len(rows)} {fmt.upper()} row(s)" + (f" to {output}" if output else "")
                  + (f"; chosen answers: {origin}" if origin else "")
                  + (f"; skipped {skipped} without a preferred answer (label them, or use --chosen-from)"
                     if skipped else ""))


async def _augment(candidate: str | None, input_path: Path | None, methods: list[str], paraphraser: str | None,
                   threshold: float, output: Path | None) -> None:
    samples = await _load(candidate, input_path)
    client = _client(paraphraser, "--paraphraser") if paraphraser else None
    try:
        kept, removed = await augment_samples(samples, methods, client, threshold)
    finally:
        await client.aclose() if client else None
    _write([sample_row(s) for s in kept], output)
    console.print(f"{len(samples)} sample(s) -> {len(kept)} variant(s); {removed} near-duplicate(s) removed")


async def _request_augmentation(candidate: str, methods: list[str], paraphraser_candidate: str | None) -> str:
    settings = Settings()
    req = SamplesAugmentationRequested(run_id=str(uuid.uuid4()), candidate_id=candidate, methods=methods,
                                       paraphraser_candidate_id=paraphraser_candidate)
    async with EventProducer(settings.kafka_bootstrap, client_id="challenger-cli") as producer:
        await producer.publish(new_event(req, source="challenger/cli"))
    return req.run_id


async def _regression(out: Output, task: str, candidate: str | None, input_path: Path | None,
                      name: str | None) -> None:
    samples = await _load(candidate, input_path)
    if not samples:
        fail("no samples to add")
    async with _registry() as registry:
        dataset = await add_to_regression(registry, task, samples, name)
    out.emit(dataset, f"added {len(samples)} regression item(s) to task {task}: {dataset.id}")


QUEUE = [Column("sample", key=True), Column("task", key=True), Column("reason"), Column("prompt", drop=2),
         Column("answered", drop=1)]


async def _label(out: Output, sample_id: int | None, value: str | None, skip: bool, task: str | None) -> None:
    async with _registry() as registry:
        if sample_id is None:
            rows = await registry.label_queue(task=task)
            out.emit(rows, out.table("samples waiting for a label", QUEUE, [
                [str(r["id"]), r["task"], r["reason"], r["prompt"], r["response"]] for r in rows]),
                f"{len(rows)} sample(s) wait for a label")
            return
        done = await registry.label(sample_id, _value(value), skip=skip)
    out.emit(done, f"sample {sample_id}: {done['label_status']} by {done['labelled_by']}")


def _value(text: str | None) -> Any:
    """A label as typed: JSON when it parses as a number, list or object, else the text itself."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, int | float | list | dict) and not isinstance(value, bool) else text


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    if unknown := set(methods) - set(METHODS):
        raise typer.BadParameter(f"unknown method(s) {sorted(unknown)}; known: {', '.join(METHODS)}")
    return methods


samples_app = typer.Typer(help="Captured failing samples: label, export, augment, add to a regression suite.",
                          no_args_is_help=True)
monitor_app = typer.Typer(help="The production monitor.", no_args_is_help=True)
Candidate = Annotated[str | None, typer.Option("--candidate", help="only samples captured from this candidate id")]
Input = Annotated[Path | None, typer.Option("--input", exists=True, dir_okay=False,
                                            help="read samples from this JSONL file instead of the registry")]
OutputFile = Annotated[Path | None, typer.Option("--output", help="JSONL file (default: stdout)")]
ExportFormat = Annotated[str, typer.Option("--format", help=f"one of {', '.join(FORMATS)}")]
ChosenFrom = Annotated[str | None, typer.Option("--chosen-from", help=(
    "the fallback/champion that answers samples without a preferred answer: spec file (YAML/JSON), or MODEL@URL"))]
Methods = Annotated[str, typer.Option(help=f"comma list of {', '.join(METHODS)}")]
Paraphraser = Annotated[str | None, typer.Option(
    help="the model that paraphrases: spec file (YAML/JSON), or MODEL@URL")]
Threshold = Annotated[float, typer.Option(help="3-gram Jaccard similarity that counts as duplicate")]
Request = Annotated[bool, typer.Option("--request", help="publish samples_augmentation.requested for the monitor "
                                                         "service instead")]


@samples_app.command("export")
def export(fmt: ExportFormat, candidate: Candidate = None, input_path: Input = None, output: OutputFile = None,
           chosen_from: ChosenFrom = None) -> None:
    """Export captured samples as SFT or DPO JSONL (the fallback/champion answer is `chosen`)."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    _run(_export(fmt, candidate, input_path, output, chosen_from))


@samples_app.command("augment")
def augment(candidate: Candidate = None, input_path: Input = None, methods: Methods = "perturb,distractor",
            paraphraser: Paraphraser = None, threshold: Threshold = 0.95, output: OutputFile = None,
            request: Request = False) -> None:
    """Augment captured samples (paraphrases, perturbations, distractors), keeping provenance, deduplicated."""
    if request:
        if not candidate:
            raise typer.BadParameter("--request needs --candidate")
        run_id = _run(_request_augmentation(candidate, _methods(methods), None))
        console.print(f"requested augmentation run {run_id}")
        return
    _run(_augment(candidate, input_path, _methods(methods), paraphraser, threshold, output))


RegressionTask = Annotated[str, typer.Option("--task", help="the task whose regression suite grows")]
DatasetName = Annotated[str | None, typer.Option(help="dataset name (default TASK-regression-captured)")]


@samples_app.command("add-to-regression")
@with_output
def add_regression(task: RegressionTask, candidate: Candidate = None, input_path: Input = None,
                   name: DatasetName = None, *, out: Output) -> None:
    """Post captured (or augmented) samples to the registry as a task's regression dataset."""
    _run(_regression(out, task, candidate, input_path, name))


SampleId = Annotated[int | None, typer.Argument(help="the captured sample to label; none: list the queue")]
Value = Annotated[str | None, typer.Argument(help="its label (the item's `expected`)")]
Skip = Annotated[bool, typer.Option("--skip", help="no usable test: skip it instead")]
QueueTask = Annotated[str | None, typer.Option("--task", help="list only this task's queue")]


@samples_app.command("label")
@with_output
def label(sample_id: SampleId = None, value: Value = None, skip: Skip = False, task: QueueTask = None, *,
          out: Output) -> None:
    """Label captured samples that wait for a person (tasks without a teacher): no arguments
    list the queue; SAMPLE_ID VALUE labels one, SAMPLE_ID --skip skips it."""
    if sample_id is not None and (value is None) == (not skip):
        raise typer.BadParameter("give either a VALUE or --skip")
    _run(_label(out, sample_id, value, skip, task))


Route = Annotated[str, typer.Option(help="production route")]
Since = Annotated[datetime, typer.Option(help="start of the period (ISO time, UTC)")]
Until = Annotated[datetime, typer.Option(help="end of the period (ISO time, UTC)")]


@monitor_app.command("reference")
@with_output
def reference(route: Route, since: Since, until: Until, *, out: Output) -> None:
    """Make the traffic the monitor logged on ROUTE in a chosen period the reference window
    of each candidate that served it then. Both are in the monitor's database: the log of
    closed windows (whichever instance closed them; the last `window_log` windows of a route)
    and the references (read for the next window judged)."""
    settings = Settings()
    store = MonitorStore(open_outbox(settings))
    records = store.logged_records(route, _ts(since), _ts(until))
    if not records:
        fail(f"no logged records for route {route} between {since} and {until}")
    saved = []
    for candidate_id in sorted({r.candidate_id for r in records}):
        own = [r for r in records if r.candidate_id == candidate_id]
        store.save_reference(WindowKey(route, candidate_id), own)
        saved.append({"route": route, "candidate_id": candidate_id, "records": len(own)})
    store.engine.dispose()
    out.emit(saved, *(f"reference for {route}/{s['candidate_id']}: {s['records']} record(s)" for s in saved))


def register(app: typer.Typer) -> None:
    app.add_typer(samples_app, name="samples")
    app.add_typer(monitor_app, name="monitor")


def _ts(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (RegistryError, ValueError) as exc:
        fail(str(exc))
