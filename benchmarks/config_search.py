"""Configuration search on the real embedded model: SmolLM2's temperature x max_tokens x
post-processing on the built-in sentiment task, from the champion's own config.

Starts a llama.cpp server of its own (a free port, 1 thread by default), runs the same
`run_config_search` the service runs, prints the variants and the verdict, and (with --docs)
copies the HTML report and a Chromium screenshot of the frontier scatter to
docs/img/config-search-smollm2-<task>.{html,png}.

    .venv/bin/python -m benchmarks.config_search [--spec ...] [--threads 1] [--docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

from challenger.stack.models import model_proc
from schemas.candidate import CandidateSpec
from schemas.events.prompts import ConfigSearchCompleted
from services.prompt_optimizer.domain.halving import Arm
from services.prompt_optimizer.entrypoints.cli import load_search_spec
from services.prompt_optimizer.handlers import run_config_search
from shared.process import free_port

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "services/prompt_optimizer/examples/search-smollm2-champion.yaml"
CHROMIUM = Path("/usr/bin/chromium")


def on_rung(rung: int, arms: list[Arm]) -> None:
    best = sorted(arms, key=lambda a: -a.accuracy)[:3]
    print(f"rung {rung}: {len(arms)} variants on {len(arms[0].scores)} items; best "
          + ", ".join(f"{a.variant.id}={a.accuracy:.3f}" for a in best), flush=True)


def screenshot(report: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(report.as_uri())
        page.locator("svg.frontier-scatter").screenshot(path=str(out))
        browser.close()


def table(done: ConfigSearchCompleted) -> str:
    rows = ["| variant | config | n | accuracy [95% CI] | stability | p95 ms | " + (done.cost_unit or "cost") + " | |",
            "|---|---|---|---|---|---|---|---|"]
    for v in sorted(done.variants, key=lambda v: (-v.n, -v.accuracy)):
        marks = " ".join(m for m in ("recommended", "frontier", "finalist") if getattr(v, m))
        stab = "-" if v.stability is None else f"{v.stability:.2f}"
        rows.append(f"| {v.variant} | {v.label} | {v.n} | {v.accuracy:.3f} [{v.ci_low:.3f}, {v.ci_high:.3f}] | "
                    f"{stab} | {v.p95_ms:.0f} | {v.cost:.4g} | {marks} |")
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> None:
    req, items = load_search_spec(args.spec)
    home = Path(tempfile.mkdtemp(prefix="cs-bench-"))
    port = free_port()
    proc = model_proc("smollm2", home, port, threads=args.threads)
    proc.start()
    try:
        proc.wait_healthy()
        cand = CandidateSpec.model_validate(req.candidate.model_dump() | {"endpoint": f"http://127.0.0.1:{port}/v1"})
        req = req.model_copy(update={"candidate": cand})
        started = time.monotonic()
        done = await run_config_search(req, items, home / "reports" / req.run_id, on_rung=on_rung)
        seconds = time.monotonic() - started
    finally:
        proc.stop()
    print(table(done))
    print(json.dumps({"seconds": round(seconds, 1), "items": len(items), "variants": len(done.variants),
                      "recommended_variant": done.recommended_variant, "spent": done.spent, "reason": done.reason},
                     indent=1))
    if args.docs and done.report_path:
        await asyncio.to_thread(to_docs, Path(done.report_path), req.task_spec.name)
    shutil.rmtree(home, ignore_errors=True)


def to_docs(report: Path, task: str) -> None:
    img = ROOT / "docs/img"
    img.mkdir(parents=True, exist_ok=True)
    shutil.copy(report, img / f"config-search-smollm2-{task}.html")
    if CHROMIUM.exists():
        screenshot(report, img / f"config-search-smollm2-{task}.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (the machine has 2 shared cores)")
    parser.add_argument("--docs", action="store_true", help="copy the report and the scatter PNG to docs/img/")
    asyncio.run(main(parser.parse_args()))
