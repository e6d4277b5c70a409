"""`challenger bench`: a load test by hand against any endpoint, with live progress."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.candidate import ApiCost, CandidateSpec, Engine, GpuCost
from schemas.events.loadtests import LoadtestCompleted, LoadtestRequested, Slo
from schemas.task import TaskSpec
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


def register(app: typer.Typer) -> None:
    @app.command("bench")
    @with_output
    def bench(
        url: str = typer.Argument(..., help="base URL of the server, e.g. http://127.0.0.1:8301"),
        model: str = typer.Option("default", help="model name sent in requests"),
        protocol: str = typer.Option(None, help="openai-chat | openai-completions | sglang; "
                                     "default: openai-chat, or openai-completions for --prompt-style completion"),
        mode: str = typer.Option("concurrency", help="concurrency | poisson | gamma | constant"),
        levels: str = typer.Option("1,2,4", help="concurrency or requests/s per level, comma separated"),
        requests: int = typer.Option(20, help="requests per level"),
        duration: float = typer.Option(None, help="seconds per level instead of a request count"),
        warmup: int = typer.Option(0, help="warm-up requests per level, left out of the figures"),
        lengths: str = typer.Option("64:32", help="INPUT:OUTPUT tokens, or ranges 32-128:16-64 (uniform); "
                                    "several separated by ';' sweep over length profiles"),
        lengths_file: Path = typer.Option(None, help="JSONL dataset whose rows give the lengths "
                                          "(input_tokens/output_tokens, or prompt/completion text)"),
        burstiness: float = typer.Option(1.0, help="gamma shape for --mode gamma (1 = Poisson)"),
        timeout: float = typer.Option(600.0, min=0.1, max=3600,
                                      help="one request's deadline in seconds; a miss counts as a timeout"),
        slo: str = typer.Option("", help="SLOs in ms for goodput: ttft=500,tpot=50,e2e=3000"),
        workers: int = typer.Option(0, help="client processes; 0 = auto (more when the client saturates)"),
        gpu_hourly: float = typer.Option(None, help="GPU $/hour of one replica, for the cost"),
        price_in: float = typer.Option(None, help="API $ per 1M input tokens"),
        price_out: float = typer.Option(None, help="API $ per 1M output tokens"),
        monthly_requests: float = typer.Option(None, help="traffic profile for the monthly cost"),
        api_key_env: str = typer.Option(None, help="environment variable holding the endpoint's API key"),
        template: str = typer.Option(None, help="the task's prompt template around each input, e.g. "
                                     "'Review: {input}\\nSentiment:'"),
        system_prompt: str = typer.Option(None, help="the task's system prompt"),
        prompt_style: str = typer.Option("chat", help="chat | completion (default protocol follows it)"),
        preprocess: str = typer.Option("[]", help="candidate pre-processing steps as JSON, "
                                       "e.g. '[{\"op\": \"truncate\", \"args\": {\"max_chars\": 400}}]'"),
        postprocess: str = typer.Option("[]", help="candidate post-processing steps as JSON, "
                                        "e.g. '[{\"op\": \"strip\", \"args\": {\"first_line\": true}}]'"),
        reports: Path = typer.Option(None, "--out", help="directory for results.json, PNGs and report.html"),
        *, out: Output,
    ) -> None:
        """Load-test an OpenAI-compatible or SGLang endpoint and write a report."""
        profiles = ([dataset_profile([json.loads(line) for line in lengths_file.read_text().splitlines() if line])]
                    if lengths_file else [parse_profile(p) for p in lengths.split(";") if p.strip()])
        cost = (GpuCost(gpu_hourly_usd=gpu_hourly) if gpu_hourly is not None else
                ApiCost(input_per_1m_usd=price_in or 0.0, output_per_1m_usd=price_out or 0.0)
                if price_in is not None or price_out is not None else None)
        try:
            spec = CandidateSpec(name="bench", model=model, task="bench",
                                 engine=Engine.sglang if protocol == "sglang" else Engine.openai,
                                 endpoint=url, cost=cost, api_key_env=api_key_env,
                                 preprocess=json.loads(preprocess), postprocess=json.loads(postprocess))
            task = (TaskSpec(name="bench", prompt_template=template or "{input}", system_prompt=system_prompt,
                             prompt_style=prompt_style)  # type: ignore[arg-type]
                    if template or system_prompt or prompt_style != "chat" else None)
        except (ValueError, ValidationError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        base = LoadtestRequested(
            loadtest_id="bench", candidate_id="bench", candidate=spec, mode=mode, levels=_levels(levels),
            requests_per_level=requests, duration_s=duration, slo=parse_slo(slo), target_url=url, protocol=protocol,
            warmup_requests=warmup, burstiness=burstiness, monthly_requests=monthly_requests, task_spec=task,
            request_timeout_s=timeout)
        results = [_bench_one(base, profile, workers,
                              (reports / f"lengths-{i}") if reports and len(profiles) > 1 else reports)
                   for i, profile in enumerate(profiles)]
        out.emit(results[0] if len(results) == 1 else results,
                 *(view for done in results for view in (_table(out, done), *_summary(done))))

    def _bench_one(base: LoadtestRequested, profile: LengthProfile, workers: int,
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
            task = bar.add_task("sweep", total=None, status="")
            errors = 0

            def tick(rec: object) -> None:
                nonlocal errors
                errors += getattr(rec, "error", None) is not None
                bar.update(task, advance=1, status=f"errors {errors}")

            def level_done(s: LevelSummary) -> None:
                console.log(f"level {s.level:g}: {s.request_rate:.2f} req/s, {s.output_tokens_per_s:.1f} tok/s, "
                            f"TTFT p50 {(s.ttft_ms or {}).get('p50', float('nan')):.1f} ms, errors {s.errors}"
                            + (" [client-bound]" if s.client_bound else ""))

            try:
                return asyncio.run(run_loadtest(req, where, tick, level_done, workers,
                                                profile if profile.kind == "dataset" else None))
            except (Unreachable, ValueError) as exc:  # ValueError: a declared step or template cannot apply
                fail(str(exc), 2)


def main() -> None:
    """`python -m services.loadtester.entrypoints.cli bench ...`: the same command without the other services' CLIs."""
    app = typer.Typer(add_completion=False, no_args_is_help=True)

    @app.callback()
    def _group() -> None:
        """Challenger load tester."""

    register(app)
    app()


if __name__ == "__main__":
    main()
