"""Run garak as a subprocess from its own virtual environment, against an OpenAI-compatible route.

garak 0.17 pulls torch, transformers and langchain and pins `openai<3`, so it cannot share the
project's environment: `install_garak` builds a venv of its own (the CPU torch first, so pip
does not fetch a CUDA build), and the evaluator finds it at CHALLENGER_GARAK_PYTHON, else at
$CHALLENGER_HOME/garak/bin/python. Offline by construction: HF_HUB_OFFLINE, and garak's data,
cache and config directories inside the run's own folder.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from schemas.events.evaluations import GarakScan, GarakSummary
from services.evaluator.domain.garak import KEY_ENV, GarakReportError, garak_config, summarize
from shared.kit.replies import write_atomically

GARAK_VERSION = "0.17.1"
TORCH_CPU = "torch==2.13.0"  # the CPU build; a bare `torch` requirement would pull a CUDA build of several GB
PYTHON_ENV = "CHALLENGER_GARAK_PYTHON"


class GarakUnavailable(RuntimeError):
    pass


def garak_python(home: Path) -> Path:
    return Path(os.environ.get(PYTHON_ENV) or home / "garak" / "bin" / "python")


def install_garak(venv: Path) -> Path:
    """Create `venv` with garak in it (minutes: torch and transformers); return its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for requirement in (TORCH_CPU, f"garak=={GARAK_VERSION}"):
        print(f"garak venv {venv}: pip install {requirement}", file=sys.stderr, flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--progress-bar", "off", requirement],
                       check=True, stdout=sys.stderr)
    return python


@dataclass
class GarakRunner:
    python: Path
    runs_dir: Path

    async def scan(self, scan: GarakScan, *, base_url: str, model: str, api_key: str | None,
                   run_id: str) -> GarakSummary:
        """Scan once; a run that already finished (same run_id) is read back, not repeated."""
        run_dir = self.runs_dir / run_id
        summary_file = run_dir / "summary.json"
        if summary_file.exists():
            return GarakSummary.model_validate_json(summary_file.read_text())
        if not self.python.exists():
            raise GarakUnavailable(f"garak is not installed at {self.python}: run `make garak` or set {PYTHON_ENV}")
        report = await self._run(scan, run_dir, base_url=base_url, model=model, api_key=api_key)
        try:
            summary = summarize(report.read_text().splitlines(), scan.probes)
        except (OSError, GarakReportError) as exc:
            raise GarakUnavailable(f"garak produced no usable report ({exc}); see {run_dir / 'garak.log'}") from exc
        summary = summary.model_copy(update={"report_uri": report.as_uri()})
        write_atomically(summary_file, summary.model_dump_json())  # its presence means "scanned"
        return summary

    async def _run(self, scan: GarakScan, run_dir: Path, *, base_url: str, model: str,
                   api_key: str | None) -> Path:
        await asyncio.to_thread(run_dir.mkdir, parents=True, exist_ok=True)
        config = run_dir / "garak.yaml"
        config.write_text(yaml.safe_dump(garak_config(scan, base_url=base_url, model=model, report_prefix="scan")))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", KEY_ENV: api_key or "sk-none",
               **{f"XDG_{d}_HOME": str(run_dir / d.lower()) for d in ("DATA", "CACHE", "CONFIG")}}
        with (run_dir / "garak.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(str(self.python), "-m", "garak", "--config", str(config),
                                                        stdout=log, stderr=subprocess.STDOUT, env=env,
                                                        start_new_session=True)
            try:
                code = await asyncio.wait_for(proc.wait(), scan.timeout_s)
            except TimeoutError:
                await _kill(proc)
                raise GarakUnavailable(f"garak did not finish within {scan.timeout_s:g} s") from None
            except asyncio.CancelledError:
                await _kill(proc)
                raise
        if code != 0:
            raise GarakUnavailable(f"garak exited with {code}; see {run_dir / 'garak.log'}")
        return run_dir / "data" / "garak" / "garak_runs" / "scan.report.jsonl"


async def _kill(proc: asyncio.subprocess.Process) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
