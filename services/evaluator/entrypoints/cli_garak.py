"""`challenger redteam garak`: garak's probes against any OpenAI-compatible route, by hand, and
`challenger redteam install-garak`: its own virtual environment. Staging runs the same scan
when the policy names probes (`staging.garak.probes`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from schemas.events.evaluations import GarakScan, GarakSummary
from services.cli.option_groups import OptionGroup, with_options
from services.cli.options import CandidateOptions, candidate_spec, endpoint_url
from services.cli.output import Column, Output, fail, progress_console, with_output
from services.evaluator.adapters.garak_runner import GarakRunner, GarakUnavailable, garak_python, install_garak
from shared.settings import Settings

COLUMNS = [Column("family / probe", key=True), Column("answers", justify="right"),
           Column("attack success", justify="right"), Column("worst detector", drop=1)]


def summary_table(out: Output, summary: GarakSummary) -> Table:
    rows: list[list[str | None]] = []
    for family, result in sorted(summary.families.items()):
        rows.append([family, str(result.attempts), f"{result.attack_success_rate:.3f}", None])
        rows += [[f"  {p.probe}", str(p.attempts), f"{p.attack_success_rate:.3f}", p.detector] for p in result.probes]
    return out.table(f"garak {summary.garak_version or '?'}: attack success rate per probe family", COLUMNS, rows)


redteam_app = typer.Typer(help="Red teaming beyond the built-in suite: garak probes.", no_args_is_help=True)
GarakVenv = Annotated[Path | None, typer.Option(help="where to build garak's venv (default: $CHALLENGER_HOME/garak)")]


@redteam_app.command("install-garak")
@with_output
def install_cmd(venv: GarakVenv = None, *, out: Output) -> None:
    """Build garak's own virtual environment (CPU torch + garak; several minutes)."""
    python = install_garak(venv or Settings().home / "garak")
    out.emit({"python": str(python)}, str(python))


@dataclass(frozen=True)
class ScanOptions(OptionGroup):
    """What garak sends and for how long."""

    probes: Annotated[str, typer.Option(help="comma-separated garak probes")] = "dan.Dan_11_0,encoding.InjectBase64"
    prompt_cap: Annotated[int, typer.Option(help="at most this many prompts per probe")] = 10
    max_tokens: Annotated[int, typer.Option(help="answer length")] = 64
    api_key_env: Annotated[str | None, typer.Option(help="env var holding the route's API key")] = None
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 1800

    def scan(self) -> GarakScan:
        return GarakScan(probes=[p.strip() for p in self.probes.split(",") if p.strip()], prompt_cap=self.prompt_cap,
                         max_tokens=self.max_tokens, timeout_s=self.timeout)


@redteam_app.command("garak")
@with_output
@with_options
def garak_cmd(route: CandidateOptions, *, options: ScanOptions, out: Output) -> None:
    """Scan a route with garak (installed by `challenger redteam install-garak`): a gateway route
    or a model server, as --model NAME --model-url URL or MODEL@URL."""
    settings, scan = Settings(), options.scan()
    spec = candidate_spec(route, "redteam")
    url, model = endpoint_url(spec), spec.model
    runner = GarakRunner(garak_python(settings.home), settings.reports_dir / "garak")
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    progress_console().print(f"garak: {', '.join(scan.probes)} against {model} at {url} "
                             f"(log: {runner.runs_dir / run_id / 'garak.log'})")
    key_env = options.api_key_env or spec.api_key_env
    key = os.environ.get(key_env) if key_env else None
    try:
        summary = asyncio.run(runner.scan(scan, base_url=url, model=model, api_key=key, run_id=run_id))
    except GarakUnavailable as exc:
        fail(f"garak failed: {exc}", 2)
    out.emit(summary, summary_table(out, summary))


def register(app: typer.Typer) -> None:
    app.add_typer(redteam_app, name="redteam")
