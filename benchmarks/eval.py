"""`make bench-eval`: the evaluator's wall time on 1,000 items against a local OpenAI-compatible
server with a fixed 50 ms latency at concurrency 64, against the ideal (n / concurrency x
latency), against a bare aiohttp loop making the same 1,000 POSTs (the HTTP floor on this
machine right now: the machine is shared, so the floor is re-measured in every round) and
against promptfoo evaluating the same items against the same server in the same run.

promptfoo is installed by this script into .bench/promptfoo (npm), never into the project.
Run: python -m benchmarks.eval [--items 1000 --concurrency 64 --latency-ms 50 --rounds 3 --skip-promptfoo]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from schemas.candidate import CandidateSpec, Engine
from schemas.events.evaluations import EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.handlers.evaluation import evaluate
from tests.support.scripted_llm import start_scripted_llm

ROOT = Path(__file__).resolve().parent.parent
PROMPTFOO_DIR = ROOT / ".bench" / "promptfoo"
PROMPTFOO_VERSION = "0.121"
MODEL = "scripted"
EXPECTED = "w1"  # the scripted server answers " w1 w2 ...": every item passes in both tools


def ensure_promptfoo() -> Path:
    binary = PROMPTFOO_DIR / "node_modules" / ".bin" / "promptfoo"
    if not binary.exists():
        PROMPTFOO_DIR.mkdir(parents=True, exist_ok=True)
        (PROMPTFOO_DIR / "package.json").write_text('{"name": "bench-promptfoo", "private": true}')
        print(f"installing promptfoo@{PROMPTFOO_VERSION} into {PROMPTFOO_DIR} (large; once)")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"promptfoo@{PROMPTFOO_VERSION}"],
                       cwd=PROMPTFOO_DIR, check=True)
    return binary


def items(n: int) -> list[DatasetItem]:
    return [DatasetItem(id=f"q{i:05d}", input=f"Question number {i}: say something.", expected=EXPECTED)
            for i in range(n)]


async def run_bare(url: str, data: list[DatasetItem], concurrency: int) -> float:
    """Wall s of nothing but the POSTs (same bodies, one aiohttp session, a semaphore): the floor."""
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one(item: DatasetItem) -> None:
            body = {"model": MODEL, "messages": [{"role": "user", "content": item.input}], "max_tokens": 256}
            async with limit, http.post(f"{url}/v1/chat/completions", json=body) as resp:
                await resp.read()
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in data))
        return time.perf_counter() - start


async def run_ours(url: str, data: list[DatasetItem], concurrency: int, home: Path) -> tuple[float, float, float]:
    """(wall s of the whole evaluation incl. report, wall s until the last answer was scored,
    CPU s of this process over the whole evaluation: the figure a loaded machine multiplies)."""
    spec = CandidateSpec(name="scripted", model=MODEL, task="bench", engine=Engine.openai, endpoint=url)
    task = TaskSpec(name="bench", metric="contains")
    req = EvaluationRequested(evaluation_id=f"bench-{time.time_ns()}", candidate_id="bench", task="bench",
                              candidate=spec, task_spec=task, kinds=["accuracy"], concurrency=concurrency)
    engines = engines_for(req)
    calls_done: list[float] = []

    def progress(done: int, total: int) -> None:
        if done == total:
            calls_done.append(time.perf_counter())

    start, cpu = time.perf_counter(), time.process_time()
    done = await evaluate(req, {"bench": data}, [], engines=engines, store=EvaluationStore(home, req.evaluation_id),
                          progress=progress)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    await engines.aclose()
    assert done.accuracy[0].n == len(data) and done.accuracy[0].candidate_score == 1.0, done.accuracy
    return wall, calls_done[-1] - start, cpu


def promptfoo_config(url: str, data: list[DatasetItem], concurrency: int, out_dir: Path) -> Path:
    tests = [{"vars": {"input": i.input}, "assert": [{"type": "icontains", "value": EXPECTED}]} for i in data]
    config = {
        "description": "challenger bench-eval",
        "prompts": ["{{input}}"],
        "providers": [{"id": f"openai:chat:{MODEL}",
                       "config": {"apiBaseUrl": f"{url}/v1", "apiKey": "sk-dummy", "max_tokens": 8}}],
        "tests": tests,
        "evaluateOptions": {"maxConcurrency": concurrency, "cache": False},
    }
    path = out_dir / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_promptfoo(binary: Path, config: Path, concurrency: int, out_dir: Path) -> tuple[float, float, int, float]:
    """(process wall s, promptfoo's own stats.durationMs in s, successes, median per-request latencyMs)."""
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_DISABLE_SHARING": "1", "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
           "PROMPTFOO_CACHE_ENABLED": "false", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
           "PROMPTFOO_CONFIG_DIR": str(out_dir / "pf-home")}
    out = out_dir / "out.json"
    start = time.perf_counter()
    proc = subprocess.run([str(binary), "eval", "-c", str(config), "--no-cache", "-j", str(concurrency),
                           "--no-progress-bar", "--no-share", "-o", str(out)], cwd=out_dir, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    # 100: some assertion failed, still a completed run. Seen here: promptfoo sometimes dies in
    # its logger at shutdown ("write after end") after writing out.json; the run itself completed.
    if proc.returncode not in (0, 100) and not out.exists():
        raise RuntimeError(f"promptfoo exited {proc.returncode}: {proc.stderr[-2000:]}")
    if proc.returncode not in (0, 100):
        print(f"  (promptfoo exited {proc.returncode} after writing its results)")
    result = json.loads(out.read_text())
    body = result.get("results", {})
    stats = body.get("stats", {}) or result.get("stats", {})
    latencies = [r["latencyMs"] for r in body.get("results", []) if isinstance(r.get("latencyMs"), int | float)]
    return (wall, float(stats.get("durationMs", 0)) / 1000, int(stats.get("successes", -1)),
            statistics.median(latencies) if latencies else float("nan"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-promptfoo", action="store_true")
    a = p.parse_args()
    binary = None if a.skip_promptfoo else ensure_promptfoo()
    data = items(a.items)
    ideal = a.items / a.concurrency * a.latency_ms / 1000
    waves = math.ceil(a.items / a.concurrency) * a.latency_ms / 1000  # whole rounds of `concurrency` calls
    gc.collect()
    gc.freeze()  # as the evaluator service does once it has imported everything (services/evaluator/__main__.py)
    server = start_scripted_llm(model=MODEL, latency_ms=a.latency_ms, output_tokens=4)
    ours, calls, cpus, bare, pf_wall, pf_eval = [], [], [], [], [], []
    loads = [os.getloadavg()[0]]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            config = promptfoo_config(server.url, data, a.concurrency, tmp_path) if binary else None
            for r in range(a.rounds):
                bare.append(asyncio.run(run_bare(server.url, data, a.concurrency)))
                total, answered, cpu = asyncio.run(run_ours(server.url, data, a.concurrency, tmp_path / "ours"))
                ours.append(total)
                calls.append(answered)
                cpus.append(cpu)
                line = (f"round {r + 1}: bare aiohttp {bare[-1]:.3f}s  ours {ours[-1]:.3f}s "
                        f"(answers {calls[-1]:.3f}s, cpu {cpu:.3f}s)")
                if binary and config:
                    wall, inner, ok, latency = run_promptfoo(binary, config, a.concurrency, tmp_path)
                    pf_wall.append(wall)
                    pf_eval.append(inner)
                    line += (f"  promptfoo {wall:.3f}s (its eval {inner:.3f}s, "
                             f"{ok} passed, median request latency {latency:.0f} ms)")
                loads.append(os.getloadavg()[0])
                print(line, flush=True)
    finally:
        server.stop()

    def fig(label: str, xs: list[float]) -> None:
        m = statistics.median(xs)
        print(f"{label:<40}{m:7.3f} s  {m / ideal:5.2f}x ideal  (rounds {min(xs):.3f}-{max(xs):.3f})")

    print(f"\n{a.items} items, concurrency {a.concurrency}, server latency {a.latency_ms:.0f} ms, medians of "
          f"{a.rounds} rounds; load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs")
    print(f"{'ideal (n / concurrency x latency)':<40}{ideal:7.3f} s   1.00x ideal")
    print(f"{'whole rounds (ceil(n / c) x latency)':<40}{waves:7.3f} s  {waves / ideal:5.2f}x ideal")
    fig("bare aiohttp loop, the POSTs only", bare)
    fig("challenger: all answers scored", calls)
    fig("challenger: + results, stats, report", ours)
    print(f"{'challenger: CPU s of the evaluation':<40}{statistics.median(cpus):7.3f} s  "
          f"(rounds {min(cpus):.3f}-{max(cpus):.3f}; a process getting 1/k of a core takes k times this)")
    if pf_wall:
        med = statistics.median(ours)
        pw, pe = statistics.median(pf_wall), statistics.median(pf_eval)
        fig("promptfoo process wall", pf_wall)
        fig("promptfoo own eval time (durationMs)", pf_eval)
        print(f"challenger is {pw / med:.2f}x faster than promptfoo's process wall, {pe / med:.2f}x than its eval")

if __name__ == "__main__":
    main()
