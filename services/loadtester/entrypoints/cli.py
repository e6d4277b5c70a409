"""`challenger bench`: a load test by hand against any endpoint, with live progress."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.candidate import ApiCost, CandidateSpec, Engine, GpuCost
from schemas.events.loadtests import LoadtestCompleted, LoadtestRequested, Slo
from schemas.task import TaskSpec
from services.cli.option_groups import OptionGroup, with_options
from services.cli.options import CandidateOptions, PromptOptions, PromptShape, candidate_spec, prompt_shape
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.loadtester.domain.metrics import LevelSummary
from services.loadtester.domain.profiles import LengthProfile, dataset_profile, parse_profile
from services.loadtester.handlers import Unreachable, report_dir, run_loadtest
from shared.settings import Settings


def parse_slo(text: str) -> Slo:
    """'ttft=500,tpot=50,e2e=3000' in milliseconds."""
    values: dict[str, float] = {}
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        if name.strip() not in ("ttft", "tpot", "e2e") or not value:
            raise typer.BadParameter(f"bad SLO part {part!r}; use ttft=MS,tpot=MS,e2e=MS")
        values[f"{name.strip()}_ms"] = float(value)
    return Slo(**values)


def _levels(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise typer.BadParameter("levels are numbers separated by commas, e.g. 1,2,4") from exc


LEVELS = [Column(header, justify="right", drop=drop) for header, drop in (
    ("level", 0), ("req", 0), ("errors", 0), ("achieved/s", 0), ("in tok", 5), ("out tok/s", 0), ("goodput/s", 0),
    ("TTFT p50", 0), ("TTFT p99", 3), ("ITL p50", 0), ("ITL p99", 2), ("E2E p50", 0), ("post p50", 4),
    ("client-bound", 1))]


def _table(out: Output, done: LoadtestCompleted) -> Table:
    rows = [[f"{r.level:g}", str(r.requests), f"{r.errors} {r.errors_by_type or ''}", f"{r.achieved_rate or 0:.2f}",
             f"{r.mean_input_tokens or 0:.0f}/{r.target_input_tokens or 0:.0f}", f"{r.output_tokens_per_s:.1f}",
             f"{r.goodput_rps:.2f}",
             *(f"{getattr(p, q):.2f}" if p else "-" for p, q in (
                 (r.ttft_ms, "p50"), (r.ttft_ms, "p99"), (r.itl_ms, "p50"), (r.itl_ms, "p99"),
                 (r.e2e_ms, "p50"), (r.postprocess_ms, "p50"))),
             "yes" if r.client_bound else "no"] for r in done.levels]
    return out.table(f"load test {done.loadtest_id}", LEVELS, rows)


def _summary(done: LoadtestCompleted) -> list[str]:
    lines = []
    if c := done.cost:
        lines.append(f"cost: ${c.usd_per_1m_tokens:.4f}/1M tokens, ${c.usd_per_request:.6f}/request"
                     + (f", ${c.monthly_usd:,.0f}/month" if c.monthly_usd is not None else ""))
    if done.saturated_at is not None:
        lines.append(f"saturated at level {done.saturated_at:g}")
    return [*lines, f"report: {done.report_path}"]


@dataclass(frozen=True)
class LoadShape(OptionGroup):
    """How the sweep loads the server: arrivals, levels, lengths, deadlines."""

    mode: Annotated[str, typer.Option(help="concurrency | poisson | gamma | constant")] = "concurrency"
    levels: Annotated[str, typer.Option(help="concurrency or requests/s per level, comma separated")] = "1,2,4"
    requests: Annotated[int, typer.Option(help="requests per level")] = 20
    duration: Annotated[float | None, typer.Option(help="seconds per level instead of a request count")] = None
    warmup: Annotated[int, typer.Option(help="warm-up requests per level, left out of the figures")] = 0
    lengths: Annotated[str, typer.Option(help="INPUT:OUTPUT tokens, or ranges 32-128:16-64 (uniform); several "
                                              "separated by ';' sweep over length profiles")] = "64:32"
    lengths_file: Annotated[Path | None, typer.Option(help=(
        "JSONL dataset whose rows give the lengths (input_tokens/output_tokens, or prompt/completion text)"))] = None
    burstiness: Annotated[float, typer.Option(help="gamma shape for --mode gamma (1 = Poisson)")] = 1.0
    timeout: Annotated[float, typer.Option(min=0.1, max=3600, help="one request's deadline in seconds; a miss "
                                                                    "counts as a timeout")] = 600.0
    slo: Annotated[str, typer.Option(help="SLOs in ms for goodput: ttft=500,tpot=50,e2e=3000")] = ""
    workers: Annotated[int, typer.Option(help="client processes; 0 = auto (more when the client saturates)")] = 0

    def profiles(self) -> list[LengthProfile]:
        if self.lengths_file:
            rows = [json.loads(line) for line in self.lengths_file.read_text().splitlines() if line]
            return [dataset_profile(rows)]
        return [parse_profile(p) for p in self.lengths.split(";") if p.strip()]


PRE_EXAMPLE = '[{"op": "truncate", "args": {"max_chars": 400}}]'
POST_EXAMPLE = '[{"op": "strip", "args": {"first_line": true}}]'


@dataclass(frozen=True)
class Serving(OptionGroup):
    """What the candidate costs and how it is called, over what its spec says."""

    gpu_hourly: Annotated[float | None, typer.Option(help="GPU $/hour of one replica, for the cost")] = None
    price_in: Annotated[float | None, typer.Option(help="API $ per 1M input tokens")] = None
    price_out: Annotated[float | None, typer.Option(help="API $ per 1M output tokens")] = None
    monthly_requests: Annotated[float | None, typer.Option(help="traffic profile for the monthly cost")] = None
    api_key_env: Annotated[str | None, typer.Option(help="environment variable holding the endpoint's API key")] = (
        None)
    preprocess: Annotated[str | None, typer.Option(
        help=f"candidate pre-processing steps as JSON, e.g. '{PRE_EXAMPLE}'")] = None
    postprocess: Annotated[str | None, typer.Option(
        help=f"candidate post-processing steps as JSON, e.g. '{POST_EXAMPLE}'")] = None

    def cost(self) -> GpuCost | ApiCost | None:
        if self.gpu_hourly is not None:
            return GpuCost(gpu_hourly_usd=self.gpu_hourly)
        if self.price_in is not None or self.price_out is not None:
            return ApiCost(input_per_1m_usd=self.price_in or 0.0, output_per_1m_usd=self.price_out or 0.0)
        return None

    def over(self, spec: CandidateSpec, protocol: str | None) -> CandidateSpec:
        """`spec` with the costs, key, steps and (for --protocol sglang) engine given here."""
        given = {"cost": self.cost(), "api_key_env": self.api_key_env,
                 "engine": Engine.sglang if protocol == "sglang" else None,
                 "preprocess": json.loads(self.preprocess) if self.preprocess else None,
                 "postprocess": json.loads(self.postprocess) if self.postprocess else None}
        return CandidateSpec.model_validate(spec.model_dump() | {k: v for k, v in given.items() if v is not None})


def bench_task(prompt: PromptShape) -> TaskSpec | None:
    """The task's prompt around each input; none (the raw input, as chat) when no option shapes it."""
    if not (prompt.prompt_template or prompt.system_prompt or prompt.prompt_style not in (None, "chat")):
        return None
    return TaskSpec(name="bench", prompt_template=prompt.prompt_template or "{input}",  # type: ignore[arg-type]
                    system_prompt=prompt.system_prompt, prompt_style=prompt.prompt_style or "chat")


Protocol = Annotated[str | None, typer.Option(help="openai-chat | openai-completions | sglang; default: openai-chat, "
                                                   "or openai-completions for --prompt-style completion")]
Reports = Annotated[Path | None, typer.Option("--out", help="directory for results.json, PNGs and report.html")]


@with_output
@with_options
def bench(target: CandidateOptions, protocol: Protocol = None, reports: Reports = None, *, load: LoadShape,
          serving: Serving, prompt: PromptOptions, out: Output) -> None:
    """Load-test an OpenAI-compatible or SGLang endpoint and write a report."""
    try:
        spec = serving.over(candidate_spec(target, "bench", default_model="default"), protocol)
        base = LoadtestRequested(
            loadtest_id="bench", candidate_id="bench", candidate=spec, mode=load.mode, levels=_levels(load.levels),
            requests_per_level=load.requests, duration_s=load.duration, slo=parse_slo(load.slo), protocol=protocol,
            warmup_requests=load.warmup, burstiness=load.burstiness, monthly_requests=serving.monthly_requests,
            task_spec=bench_task(prompt_shape(prompt)), request_timeout_s=load.timeout)
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    profiles = load.profiles()
    results = [bench_one(base, profile, load.workers,
                         (reports / f"lengths-{i}") if reports and len(profiles) > 1 else reports)
               for i, profile in enumerate(profiles)]
    out.emit(results[0] if len(results) == 1 else results,
             *(view for done in results for view in (_table(out, done), *_summary(done))))


class SweepProgress:
    """A sweep's bar (one tick a request, errors counted) and one log line a level, on stderr."""

    def __init__(self, bar: Progress, console: Console) -> None:
        self.bar, self.console, self.errors = bar, console, 0
        self.task = bar.add_task("sweep", total=None, status="")

    def tick(self, record: object) -> None:
        self.errors += getattr(record, "error", None) is not None
        self.bar.update(self.task, advance=1, status=f"errors {self.errors}")

    def level_done(self, s: LevelSummary) -> None:
        self.console.log(f"level {s.level:g}: {s.request_rate:.2f} req/s, {s.output_tokens_per_s:.1f} tok/s, "
                         f"TTFT p50 {(s.ttft_ms or {}).get('p50', float('nan')):.1f} ms, errors {s.errors}"
                         + (" [client-bound]" if s.client_bound else ""))


def bench_one(base: LoadtestRequested, profile: LengthProfile, workers: int,
              reports: Path | None) -> LoadtestCompleted:
    """One sweep, its progress on stderr."""
    console = progress_console()
    console.rule(f"lengths {profile.kind} in={profile.input_tokens}-{profile.input_max or profile.input_tokens}"
                 f" out={profile.output_tokens}-{profile.output_max or profile.output_tokens}")
    req = base.model_copy(update=dict(
        loadtest_id=f"bench-{uuid.uuid4().hex[:8]}", input_tokens=profile.input_tokens,
        output_tokens=profile.output_tokens, input_tokens_max=profile.input_max,
        output_tokens_max=profile.output_max))
    where = reports or report_dir(Settings().reports_dir, req.loadtest_id)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=console) as bar:
        progress = SweepProgress(bar, console)
        try:
            return asyncio.run(run_loadtest(req, where, progress.tick, progress.level_done, workers,
                                            profile if profile.kind == "dataset" else None))
        except (Unreachable, ValueError) as exc:  # ValueError: a declared step or template cannot apply
            fail(str(exc), 2)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def _loadtester() -> None:
    """Challenger load tester."""


def main() -> None:
    """`python -m services.loadtester.entrypoints.cli bench ...`: the same command without the other services' CLIs."""
    app = typer.Typer(add_completion=False, no_args_is_help=True)
    app.callback()(_loadtester)
    register(app)
    app()


if __name__ == "__main__":
    main()
