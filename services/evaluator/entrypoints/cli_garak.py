"""`challenger redteam garak`: garak's probes against any OpenAI-compatible route, by hand, and
`challenger redteam install-garak`: its own virtual environment. Staging runs the same scan
when the policy names probes (`staging.garak.probes`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import typer
from rich.table import Table

from schemas.events.evaluations import GarakScan, GarakSummary
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


def register(app: typer.Typer) -> None:
    redteam = typer.Typer(help="Red teaming beyond the built-in suite: garak probes.", no_args_is_help=True)
    app.add_typer(redteam, name="redteam")

    @redteam.command("install-garak")
    @with_output
    def install_cmd(venv: Path = typer.Option(None, help="where to build garak's venv "
                                                          "(default: $CHALLENGER_HOME/garak)"), *,
                    out: Output) -> None:
        """Build garak's own virtual environment (CPU torch + garak; several minutes)."""
        python = install_garak(venv or Settings().home / "garak")
        out.emit({"python": str(python)}, str(python))

    @redteam.command("garak")
    @with_output
    def garak_cmd(
        url: str = typer.Option(..., help="the OpenAI-compatible base URL (a gateway or a model server)"),
        model: str = typer.Option(..., help="the model (or gateway route) name"),
        probes: str = typer.Option("dan.Dan_11_0,encoding.InjectBase64", help="comma-separated garak probes"),
        prompt_cap: int = typer.Option(10, help="at most this many prompts per probe"),
        max_tokens: int = typer.Option(64, help="answer length"),
        api_key_env: str = typer.Option(None, help="env var holding the route's API key"),
        timeout: float = typer.Option(1800, help="give up after this many seconds"),
        *, out: Output,
    ) -> None:
        """Scan a route with garak (installed by `challenger redteam install-garak`)."""
        settings = Settings()
        scan = GarakScan(probes=[p.strip() for p in probes.split(",") if p.strip()], prompt_cap=prompt_cap,
                         max_tokens=max_tokens, timeout_s=timeout)
        runner = GarakRunner(garak_python(settings.home), settings.reports_dir / "garak")
        run_id = f"cli-{uuid.uuid4().hex[:8]}"
        progress_console().print(f"garak: {', '.join(scan.probes)} against {model} at {url} "
                                 f"(log: {runner.runs_dir / run_id / 'garak.log'})")
        key = os.environ.get(api_key_env) if api_key_env else None
        try:
            summary = asyncio.run(runner.scan(scan, base_url=url, model=model, api_key=key, run_id=run_id))
        except GarakUnavailable as exc:
            fail(f"garak failed: {exc}", 2)
        out.emit(summary, summary_table(out, summary))
