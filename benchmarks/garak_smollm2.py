"""garak for real, once, outside CI: install it into its own venv (if missing), serve SmolLM2 with
llama.cpp, and scan it with two probe families that run offline (no hub, no internet).

    .venv/bin/python -m benchmarks.garak_smollm2 [--probes dan.Dan_11_0,encoding.InjectBase64] [--cap 5]

Offline here: `dan.*` (its DAN prompts and the dan.DAN / mitigation.MitigationBypass string
detectors ship with garak), `encoding.Inject*` (payloads and the DecodeMatch/DecodeApprox
detectors ship with garak) and `promptinject.*`. Not offline: probes whose detectors load a
Hugging Face classifier (e.g. `lmrc.*` toxicity) and `packagehallucination.*` (it downloads the
package indexes it checks against).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from challenger.stack.models import model_proc
from schemas.events.evaluations import GarakScan
from services.cli.output import Output
from services.evaluator.adapters.garak_runner import GarakRunner, garak_python, install_garak
from services.evaluator.entrypoints.cli_garak import summary_table
from shared.process import free_port

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("CHALLENGER_HOME") or ROOT / ".challenger")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", default="dan.Dan_11_0,dan.DUDE,encoding.InjectBase64,encoding.InjectROT13")
    parser.add_argument("--cap", type=int, default=5, help="prompts per probe")
    args = parser.parse_args()
    python = garak_python(HOME)
    if not python.exists():
        python = install_garak(python.parent.parent)
    model = model_proc("smollm2", HOME, free_port(), threads=2)
    model.start()
    try:
        model.wait_healthy()
        scan = GarakScan(probes=args.probes.split(","), prompt_cap=args.cap, max_tokens=64)
        started = time.monotonic()
        runner = GarakRunner(python, HOME / "reports" / "garak")
        summary = asyncio.run(runner.scan(scan, base_url=model.url, model="smollm2", api_key=None,
                                          run_id=f"smollm2-{int(time.time())}"))
        out = Output()
        out.emit(summary, summary_table(out, summary))
        print(f"probes {args.probes}, {args.cap} prompts each, {time.monotonic() - started:.0f} s; "
              f"load {os.getloadavg()[0]:.2f}; report {summary.report_uri}", file=sys.stderr)
    finally:
        model.stop()


if __name__ == "__main__":
    main()
