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
from typing import Any

import typer

from challenger.client import AsyncClient, RegistryError
from schemas import new_event
from schemas.events.degradations import SamplesAugmentationRequested
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.monitor.adapters.models import client_from_ref
from services.monitor.adapters.store import MonitorStore
from services.monitor.domain.augment import METHODS
from services.monitor.domain.exports import FORMATS, export_rows, sample_row, sources
from services.monitor.domain.windows import WindowKey
from services.monitor.samples import add_to_regression, augment_samples, fill_chosen, load_samples
from shared.bus.producer import EventProducer
from shared.settings import Settings

console = progress_console()
CandidateOpt = typer.Option(None, "--candidate", help="only samples captured from this candidate id")
InputOpt = typer.Option(None, "--input", exists=True, dir_okay=False,
                        help="read samples from this JSONL file instead of the registry")


def _registry() -> AsyncClient:
    return AsyncClient()


def _model_ref(ref: str) -> str:
    """Accept MODEL@URL (as the other commands do) as well as URL/MODEL."""
    model, sep, url = ref.partition("@")
    return f"{url.rstrip('/')}/{model}" if sep and url.startswith("http") else ref


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
        async with client_from_ref(_model_ref(chosen_from)) as client:
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
    client = client_from_ref(_model_ref(paraphraser)) if paraphraser else None
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


def register(app: typer.Typer) -> None:
    samples = typer.Typer(help="Captured failing samples: label, export, augment, add to a regression suite.",
                          no_args_is_help=True)
    monitor = typer.Typer(help="The production monitor.", no_args_is_help=True)

    @samples.command("export")
    def export(fmt: str = typer.Option(..., "--format", help=f"one of {', '.join(FORMATS)}"),
               candidate: str | None = CandidateOpt, input_path: Path | None = InputOpt,
               output: Path | None = typer.Option(None, "--output", help="JSONL file (default: stdout)"),
               chosen_from: str | None = typer.Option(
                   None, "--chosen-from", help="URL/MODEL (or MODEL@URL) of the fallback/champion that answers "
                                               "samples without a preferred answer")) -> None:
        """Export captured samples as SFT or DPO JSONL (the fallback/champion answer is `chosen`)."""
        if fmt not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        _run(_export(fmt, candidate, input_path, output, chosen_from))

    @samples.command("augment")
    def augment(candidate: str | None = CandidateOpt, input_path: Path | None = InputOpt,
                methods: str = typer.Option("perturb,distractor", help=f"comma list of {', '.join(METHODS)}"),
                paraphraser: str | None = typer.Option(None, help="URL/MODEL (or MODEL@URL) that paraphrases"),
                threshold: float = typer.Option(0.95, help="3-gram Jaccard similarity that counts as duplicate"),
                output: Path | None = typer.Option(None, "--output", help="JSONL file (default: stdout)"),
                request: bool = typer.Option(False, "--request", help="publish samples_augmentation.requested "
                                                                      "for the monitor service instead")) -> None:
        """Augment captured samples (paraphrases, perturbations, distractors), keeping provenance, deduplicated."""
        if request:
            if not candidate:
                raise typer.BadParameter("--request needs --candidate")
            run_id = _run(_request_augmentation(candidate, _methods(methods), None))
            console.print(f"requested augmentation run {run_id}")
            return
        _run(_augment(candidate, input_path, _methods(methods), paraphraser, threshold, output))

    @samples.command("add-to-regression")
    @with_output
    def add_regression(task: str = typer.Option(..., "--task", help="the task whose regression suite grows"),
                       candidate: str | None = CandidateOpt, input_path: Path | None = InputOpt,
                       name: str | None = typer.Option(None, help="dataset name (default TASK-regression-captured)"),
                       *, out: Output) -> None:
        """Post captured (or augmented) samples to the registry as a task's regression dataset."""
        _run(_regression(out, task, candidate, input_path, name))

    @samples.command("label")
    @with_output
    def label(sample_id: int | None = typer.Argument(None, help="the captured sample to label; none: list the queue"),
              value: str | None = typer.Argument(None, help="its label (the item's `expected`)"),
              skip: bool = typer.Option(False, "--skip", help="no usable test: skip it instead"),
              task: str | None = typer.Option(None, "--task", help="list only this task's queue"), *,
              out: Output) -> None:
        """Label captured samples that wait for a person (tasks without a teacher): no arguments
        list the queue; SAMPLE_ID VALUE labels one, SAMPLE_ID --skip skips it."""
        if sample_id is not None and (value is None) == (not skip):
            raise typer.BadParameter("give either a VALUE or --skip")
        _run(_label(out, sample_id, value, skip, task))

    @monitor.command("reference")
    @with_output
    def reference(route: str = typer.Option(..., help="production route"),
                  since: datetime = typer.Option(..., help="start of the period (ISO time, UTC)"),
                  until: datetime = typer.Option(..., help="end of the period (ISO time, UTC)"), *,
                  out: Output) -> None:
        """Make the traffic the monitor logged on ROUTE in a chosen period the reference window
        of each candidate that served it then (read when the monitor starts)."""
        store = MonitorStore(Settings().home)
        records = store.logged_records(route, _ts(since), _ts(until))
        if not records:
            fail(f"no logged records for route {route} between {since} and {until}")
        saved = []
        for candidate_id in sorted({r.candidate_id for r in records}):
            own = [r for r in records if r.candidate_id == candidate_id]
            path = store.save_reference(WindowKey(route, candidate_id), own)
            saved.append({"route": route, "candidate_id": candidate_id, "records": len(own), "path": str(path)})
        out.emit(saved, *(f"reference for {route}/{s['candidate_id']}: {s['records']} record(s) -> {s['path']}"
                          for s in saved))

    app.add_typer(samples, name="samples")
    app.add_typer(monitor, name="monitor")


def _ts(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (RegistryError, ValueError) as exc:
        fail(str(exc))
