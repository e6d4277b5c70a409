"""`make bench-gateway`: the gateway's added latency and req/s per core vs the LiteLLM proxy.

Both in front of the same local scripted upstream, in the same run, with a direct call to the
upstream as the baseline, streaming and not; then the gateway with N worker processes.

* added latency: concurrency 1, a direct and a proxied call in turn (the order swapped every
  round), p50/p99 via the proxy minus the same percentile direct; for streams the whole stream
  and the time to first byte. Measured by our raw-socket client and by an independent aiohttp
  client (benchmarks/gateway_client.py) in alternating blocks, both printed. The processes run
  at real-time priority meanwhile (unless --no-realtime): on a shared machine a process ready
  to run otherwise waits behind others' time slices, and that wait is not the proxy's latency.
  The proxy's on-CPU and waiting time per request are printed beside it.
* req/s per core: each proxy pinned to ONE core (taskset), closed loop at fixed concurrency;
  the upstream and this load generator share the other; and the proxy's CPU per request.

LiteLLM is installed by this script into .bench/litellm (pip), never into the project.
Run: python -m benchmarks.gateway [--latency-requests 2000 --seconds 8 --concurrency 32 --workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from challenger.stack.broker import tansu_binary
from shared.process import free_port
from tests.support.scripted_llm import start_scripted_llm

ROOT = Path(__file__).resolve().parent.parent
LITELLM_DIR = ROOT / ".bench" / "litellm"
LITELLM_VERSION = "1.108.7"
MASTER_KEY = "sk-local-test"
ROUTE = "bench"
PROXY_CPU, LOAD_CPU = 0, 1


def ensure_litellm() -> Path:
    binary = LITELLM_DIR / "bin" / "litellm"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_DIR)], check=True)
        subprocess.run([str(LITELLM_DIR / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
                       check=True)
    return binary


# ---------------------------------------------------------------- processes

def spawn(argv: list[str], cpu: int | str, env: dict[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen:
    out = log.open("w") if log else subprocess.DEVNULL
    return subprocess.Popen(["taskset", "-c", str(cpu), *argv], env={**os.environ, **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def route_target(candidate_id: str, url: str, model: str = "scripted") -> dict[str, object]:
    return {"candidate_id": candidate_id, "url": url, "model": model, "weight": 1.0}


def start_gateway(upstream: str, broker: str, work: Path, *, table: dict[str, object] | None = None,
                  subscribe: bool = False, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """Our gateway pinned to PROXY_CPU (`workers` processes: pinned to the first `workers`
    cores), serving ROUTE from a routes file: one target at `upstream` unless `table` says
    otherwise; `subscribe` also applies route.updated events."""
    routes = work / "routes.yaml"
    routes.write_text(yaml.safe_dump({"routes": {ROUTE: table or {"targets": [route_target("scripted", upstream)]}}}))
    port = free_port()
    env = {"CHALLENGER_HOME": str(work / "home"), "CHALLENGER_KAFKA_BOOTSTRAP": broker,
           "CHALLENGER_GATEWAY_PORT": str(port), "CHALLENGER_GATEWAY_ROUTES_FILE": str(routes),
           "CHALLENGER_GATEWAY_SUBSCRIBE": str(subscribe).lower(), "CHALLENGER_GATEWAY_LOG_SAMPLE_RATE": "1.0",
           "CHALLENGER_GATEWAY_API_KEYS": f"bench:{MASTER_KEY}",  # keys on, as deployed (LiteLLM has its key)
           "CHALLENGER_GATEWAY_WORKERS": str(workers)}
    cpus = str(PROXY_CPU) if workers == 1 else f"0-{min(workers, os.cpu_count() or 1) - 1}"
    proc = spawn([sys.executable, "-m", "services.gateway"], cpus, env, work / f"gateway-{workers}.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc)
    return proc, url


def litellm_model(name: str, upstream: str, model: str = "scripted") -> dict[str, object]:
    return {"model_name": name, "litellm_params": {"model": f"openai/{model}", "api_base": f"{upstream}/v1",
                                                   "api_key": "sk-dummy"}}


def start_litellm(upstream: str, work: Path, *, models: list[dict[str, object]] | None = None,
                  router_settings: dict[str, object] | None = None) -> tuple[subprocess.Popen, str]:
    """The LiteLLM proxy pinned to PROXY_CPU: ROUTE to `upstream` unless `models` says otherwise."""
    config = work / "litellm.yaml"
    config.write_text(yaml.safe_dump({
        "model_list": models or [litellm_model(ROUTE, upstream)],
        "litellm_settings": {"telemetry": False, "drop_params": True},
        "general_settings": {"master_key": MASTER_KEY},
        **({"router_settings": router_settings} if router_settings else {})}))
    port = free_port()
    proc = spawn([str(ensure_litellm()), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                  "--num_workers", "1"], PROXY_CPU, {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}, work / "litellm.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health/liveliness", proc)
    return proc, url


# ---------------------------------------------------------------- a lean HTTP/1.1 client

@dataclass
class Timing:
    ttfb: float
    total: float
    ok: bool
    head: bytes = b""


def request_bytes(url: str, stream: bool, max_tokens: int) -> bytes:
    body = json.dumps({"model": ROUTE, "messages": [{"role": "user", "content": "say something short"}],
                       "max_tokens": max_tokens, "temperature": 0.7, "stream": stream}).encode()
    host = url.split("//", 1)[1]
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {MASTER_KEY}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


class Connection:
    def __init__(self, url: str) -> None:
        self.host, port = url.split("//", 1)[1].split(":")
        self.port = int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes, on_body: Callable[[bytes], None] | None = None) -> Timing:
        """Send one request and read the whole response; `on_body` sees each piece of the
        body (each HTTP chunk) the moment it arrives."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        start = time.perf_counter()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        ok = head.startswith(b"HTTP/1.1 200")
        headers = head.lower()
        if b"transfer-encoding: chunked" in headers:
            ttfb = await self._read_chunked(start, on_body)
        else:
            length = int(headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            body = await self.reader.readexactly(length)
            ttfb = time.perf_counter() - start
            if on_body is not None:
                on_body(body)
        if b"connection: close" in headers:
            self.writer.close()
            self.writer = None
        return Timing(ttfb, time.perf_counter() - start, ok, head)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def _read_chunked(self, start: float, on_body: Callable[[bytes], None] | None) -> float:
        assert self.reader is not None
        ttfb = 0.0
        while True:
            size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if not ttfb:
                ttfb = time.perf_counter() - start
            if on_body is not None and size:
                on_body(data[:-2])
            if size == 0:
                return ttfb


async def interleaved(direct_url: str, proxy_url: str, stream: bool, max_tokens: int,
                      n: int) -> tuple[list[Timing], list[Timing]]:
    """Concurrency 1, a direct call and a proxied call in turn (the order swapped every round),
    each side on its own keep-alive connection: both samples of a round see the same machine."""
    sides = [(Connection(direct_url), request_bytes(direct_url, stream, max_tokens), []),
             (Connection(proxy_url), request_bytes(proxy_url, stream, max_tokens), [])]
    warm = max(5, n // 20)
    for i in range(warm + n):
        for conn, raw, out in (sides if i % 2 == 0 else sides[::-1]):
            timing = await conn.request(raw)
            if i >= warm:
                out.append(timing)
    for conn, _, _ in sides:
        conn.close()
    return sides[0][2], sides[1][2]


async def closed_loop(url: str, raw: bytes, concurrency: int, seconds: float) -> tuple[float, int]:
    done = errors = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = Connection(url)
        while time.perf_counter() < end:
            t = await conn.request(raw)
            done += 1
            errors += not t.ok

    await asyncio.gather(*(worker() for _ in range(min(concurrency, 4))))  # warm connections
    done = errors = 0
    started = time.perf_counter()
    end = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started), errors


def sched_seconds(pgid: int) -> tuple[float, float]:
    """(on-CPU, runnable but waiting for a CPU) seconds of every thread of every process in
    the group (the proxy and any workers), from /proc/*/task/*/schedstat. The wait is the
    machine's load as the proxy felt it: time it was ready to run and its core was busy."""
    on_cpu = waiting = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pgid:  # state ppid pgrp
                continue
            for task in (stat.parent / "task").iterdir():
                run, wait, _ = (task / "schedstat").read_text().split()
                on_cpu += int(run)
                waiting += int(wait)
        except (OSError, ValueError):
            continue
    return on_cpu / 1e9, waiting / 1e9


def cpu_seconds(pgid: int) -> float:
    """CPU time of every thread of every process in the group."""
    return sched_seconds(pgid)[0]


def group_tasks(pgid: int) -> list[int]:
    """Every thread id of every process in the group."""
    tids: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                tids += [int(task.name) for task in (stat.parent / "task").iterdir()]
        except (OSError, ValueError):
            continue
    return tids


def realtime(pgids: list[int], on: bool) -> bool:
    """Put every thread of these process groups, and this process's main thread (whose
    children inherit it), in SCHED_FIFO (or back to SCHED_OTHER). On a machine shared with
    other work a process ready to run waits for its core behind the others' time slices;
    at real-time priority it does not, so the latency measured is the processes' own. They
    are idle between requests at concurrency 1, so this takes nothing from anyone. False
    when not permitted (no CAP_SYS_NICE): the figures then include that waiting."""
    policy, param = (os.SCHED_FIFO, os.sched_param(10)) if on else (os.SCHED_OTHER, os.sched_param(0))
    try:
        os.sched_setscheduler(0, policy, param)
    except (PermissionError, OSError):
        return False
    for tid in [t for pgid in pgids for t in group_tasks(pgid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.sched_setscheduler(tid, policy, param)
    return True


def load_average() -> float:
    return os.getloadavg()[0]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# ---------------------------------------------------------------- the run

LATENCY = ("p50", "p99", "ttfb_p50", "ttfb_p99")


def percentiles(totals: list[float], ttfbs: list[float]) -> dict[str, float]:
    """Milliseconds from seconds."""
    return {"p50": pct(totals, 0.5) * 1000, "p99": pct(totals, 0.99) * 1000,
            "ttfb_p50": pct(ttfbs, 0.5) * 1000, "ttfb_p99": pct(ttfbs, 0.99) * 1000}


def independent_client(direct: str, proxy: str, stream: bool, n: int, max_tokens: int) -> dict[str, float]:
    """benchmarks.gateway_client (aiohttp) in its own process on this one's core: the added
    latency as another HTTP stack with another clock sees it."""
    argv = [sys.executable, "-m", "benchmarks.gateway_client", "--direct", direct, "--proxy", proxy,
            "-n", str(n), "--route", ROUTE, "--max-tokens", str(max_tokens), "--api-key", MASTER_KEY]
    out = json.loads(subprocess.run(argv + (["--stream"] if stream else []), check=True, capture_output=True,
                                    text=True, cwd=ROOT).stdout)
    return {side: out[side] for side in ("direct", "proxy")}  # type: ignore[return-value]


async def latency(direct: str, proxy: str, pgid: int, stream: bool, args: argparse.Namespace) -> dict[str, float]:
    """Added latency by our raw client and by the independent one, in alternating blocks (so a
    change of the machine's load hits both), and the proxy's on-CPU and waiting time per request.
    The proxy, the upstream and both clients run at real-time priority unless --no-realtime."""
    isolated = not args.no_realtime and realtime([pgid, args.upstream_pgid], True)
    try:
        return await _latency(direct, proxy, pgid, stream, args) | {"realtime": float(isolated)}
    finally:
        if isolated:
            realtime([pgid, args.upstream_pgid], False)


async def _latency(direct: str, proxy: str, pgid: int, stream: bool, args: argparse.Namespace) -> dict[str, float]:
    ours: dict[str, list[Timing]] = {"direct": [], "proxy": []}
    theirs: dict[str, dict[str, list[float]]] = {"direct": {"ttfb": [], "total": []},
                                                 "proxy": {"ttfb": [], "total": []}}
    on_cpu = waiting = 0.0
    loads = [load_average()]
    block = max(20, args.latency_requests // args.blocks)
    for _ in range(args.blocks):
        cpu0, wait0 = sched_seconds(pgid)
        d, p = await interleaved(direct, proxy, stream, args.max_tokens, block)
        cpu1, wait1 = sched_seconds(pgid)
        on_cpu, waiting = on_cpu + cpu1 - cpu0, waiting + wait1 - wait0
        assert all(t.ok for t in d + p), f"{proxy} answered errors"
        ours["direct"] += d
        ours["proxy"] += p
        other = independent_client(direct, proxy, stream, block, args.max_tokens)
        for side in theirs:
            for key in theirs[side]:
                theirs[side][key] += [v / 1000 for v in other[side][key]]  # type: ignore[index]
        loads.append(load_average())
    d_pct = percentiles([t.total for t in ours["direct"]], [t.ttfb for t in ours["direct"]])
    p_pct = percentiles([t.total for t in ours["proxy"]], [t.ttfb for t in ours["proxy"]])
    c_d = percentiles(theirs["direct"]["total"], theirs["direct"]["ttfb"])
    c_p = percentiles(theirs["proxy"]["total"], theirs["proxy"]["ttfb"])
    n = len(ours["proxy"]) + (args.blocks * max(5, block // 20))  # the proxy also served the warm-up
    res = {**p_pct, **{f"direct_{k}": v for k, v in d_pct.items()},
           **{f"added_{k}": p_pct[k] - d_pct[k] for k in LATENCY},
           **{f"check_added_{k}": c_p[k] - c_d[k] for k in LATENCY},
           "cpu_ms_per_req_latency": on_cpu * 1000 / n, "wait_ms_per_req_latency": waiting * 1000 / n,
           "load_1min": max(loads)}
    return res


def profile_summary(raw: Path, top: int = 25) -> str:
    """py-spy's raw (collapsed) stacks as the share of busy samples spent in (under) each
    function; idle samples (the event loop waiting, threads sleeping) left out."""
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[-1].startswith(("Runner.run ", "Condition.wait ", "Event.wait ")):
            continue
        busy += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    rows = [f"{100 * n / busy:5.1f} %  {frame}" for frame, n in inclusive.most_common(top + 6)[6:]]
    return f"py-spy, {busy} busy samples; share of busy time under each function:\n" + "\n".join(rows)


def start_profiler(pid: int, args: argparse.Namespace) -> subprocess.Popen | None:
    """py-spy on one process for the closed loop's length; None when py-spy is not installed."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("--profile: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return None
    return subprocess.Popen([spy, "record", "-p", str(pid), "-r", "200", "-d", str(int(args.seconds)), "-f", "raw",
                             "--nonblocking", "-o", str(args.profile / f"pyspy-{pid}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen, out: Path) -> None:
    spy.wait(30)
    if out.exists():
        print(profile_summary(out), file=sys.stderr)


async def throughput(url: str, pgid: int, stream: bool, args: argparse.Namespace) -> dict[str, float]:
    raw = request_bytes(url, stream, args.max_tokens)
    cpu0, wait0 = sched_seconds(pgid)
    started = time.perf_counter()
    spy = start_profiler(pgid, args) if args.profile and not stream else None  # the JSON path
    rps, errors = await closed_loop(url, raw, args.concurrency, args.seconds)
    if spy is not None:
        stop_profiler(spy, args.profile / f"pyspy-{pgid}.txt")
    cpu1, wait1 = sched_seconds(pgid)
    served = max(1.0, rps * (time.perf_counter() - started))
    cpu_ms = (cpu1 - cpu0) * 1000 / served
    return {"rps": rps, "errors": errors, "cpu_ms_per_req": cpu_ms, "rps_per_cpu_s": 1000 / cpu_ms,
            "wait_ms_per_req": (wait1 - wait0) * 1000 / served}


async def measure(targets: dict[str, str], pgids: dict[str, int],
                  args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for stream in (False, True):
        mode = "stream" if stream else "json"
        for name in pgids:
            res = await latency(targets["direct"], targets[name], pgids[name], stream, args)
            res.update(await throughput(targets[name], pgids[name], stream, args))
            results[f"{name}/{mode}"] = res
            print(f"  {name:8s} {mode:6s} " + " ".join(f"{k}={v:.2f}" for k, v in res.items()), file=sys.stderr,
                  flush=True)
    return results


async def scaling(gateway_url: str, gateway_pgid: int, workers_url: str, workers_pgid: int,
                  args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """JSON req/s of one worker (pinned to one core) and of `--workers` workers (on that many
    cores), back to back, twice each in turn (the machine's load changes)."""
    out: dict[str, dict[str, float]] = {}
    for name, url, pgid in (("1 worker", gateway_url, gateway_pgid), (f"{args.workers} workers", workers_url,
                                                                       workers_pgid)) * 2:
        res = await throughput(url, pgid, False, args)
        prev = out.get(name)
        out[name] = res if prev is None else {k: (v + prev[k]) / 2 for k, v in res.items()}
        print(f"  {name}: " + " ".join(f"{k}={v:.2f}" for k, v in res.items()), file=sys.stderr, flush=True)
    return out


def scaling_report(rows: dict[str, dict[str, float]]) -> str:
    lines = ["| gateway | JSON req/s (closed loop) | CPU ms per request | req/s per CPU-second "
             "| ms waiting for a core per request |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['cpu_ms_per_req']:.2f} | {r['rps_per_cpu_s']:.0f} "
              f"| {r['wait_ms_per_req']:.2f} |" for name, r in rows.items()]
    return "\n".join(lines)


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours > 0 else "ours <= 0"


def agreement(ours: float, check: float) -> str:
    return f"{abs(check - ours) / abs(ours) * 100:.0f} %" if ours else "-"


def report(results: dict[str, dict[str, float]]) -> str:
    lines = ["| mode | metric | direct | challenger | LiteLLM | added: challenger | added: LiteLLM "
             "| LiteLLM / ours |",
             "|---|---|---|---|---|---|---|---|"]
    for mode in ("json", "stream"):
        c = results[f"gateway/{mode}"]
        lt = results.get(f"litellm/{mode}") or dict.fromkeys(c, float("nan"))
        for metric in (("p50", "p99") if mode == "json" else LATENCY):
            ac, al = c[f"added_{metric}"], lt[f"added_{metric}"]
            lines.append(f"| {mode} | {metric} ms | {c[f'direct_{metric}']:.2f} | {c[metric]:.2f} | {lt[metric]:.2f} "
                         f"| {ac:.2f} | {al:.2f} | {_ratio(al, ac)} |")
            cc, cl = c[f"check_added_{metric}"], lt[f"check_added_{metric}"]
            lines.append(f"| {mode} | {metric} added ms, independent aiohttp client | | | | {cc:.2f} "
                         f"(differs {agreement(ac, cc)}) | {cl:.2f} (differs {agreement(al, cl)}) | |")
        lines.append(f"| {mode} | proxy on-CPU ms per request (latency run) | - | {c['cpu_ms_per_req_latency']:.2f} "
                     f"| {lt['cpu_ms_per_req_latency']:.2f} | | | |")
        lines.append(f"| {mode} | proxy waiting for its core ms per request (latency run) | - "
                     f"| {c['wait_ms_per_req_latency']:.2f} | {lt['wait_ms_per_req_latency']:.2f} | | | |")
        lines.append(f"| {mode} | req/s on 1 (shared) core | - | {c['rps']:.0f} | {lt['rps']:.0f} | | | "
                     f"{c['rps'] / lt['rps']:.1f}x (ours/LiteLLM) |")
        cc, cl = c["cpu_ms_per_req"], lt["cpu_ms_per_req"]
        lines.append(f"| {mode} | CPU ms per request | - | {cc:.2f} | {cl:.2f} | | | {cl / cc:.1f}x |")
        lines.append(f"| {mode} | req/s per CPU-second | - | {1000 / cc:.0f} | {1000 / cl:.0f} | | | "
                     f"{cl / cc:.1f}x (ours/LiteLLM) |")
    loads = [r["load_1min"] for r in results.values()]
    isolated = all(r["realtime"] for r in results.values())
    lines.append(f"\nload average (1 min) during the latency runs: {min(loads):.1f} to {max(loads):.1f} "
                 f"on {os.cpu_count()} cores; latency measured "
                 + ("at real-time priority (SCHED_FIFO: the proxies' own time, not the queue for a busy core)"
                    if isolated else "at normal priority (includes waiting for a busy core)"))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--latency-requests", type=int, default=2000,
                   help="rounds per client, per proxy, per mode (p99 of fewer moves with one outlier)")
    p.add_argument("--blocks", type=int, default=4, help="alternating blocks of our client and the independent one")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--no-litellm", action="store_true", help="our gateway only (quick runs while profiling)")
    p.add_argument("--profile", type=Path, help="py-spy each proxy's JSON closed loop, raw stacks to this folder, "
                                                "a summary to stderr")
    p.add_argument("--workers", type=int, default=2, help="also measure a gateway of this many worker processes "
                                                           "(1: skip)")
    p.add_argument("--no-realtime", action="store_true",
                   help="measure latency at normal priority: the figures then include waiting for a busy core")
    args = p.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not args.no_litellm:
        ensure_litellm()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp, start_scripted_llm(cpu=LOAD_CPU, ttft_ms=0, itl_ms=0,
                                                                  role_chunk=False) as upstream:
        work = Path(tmp)
        try:
            bport = free_port()
            broker_url = f"tcp://127.0.0.1:{bport}"
            procs.append(spawn([tansu_binary(), "broker", "--listener-url", broker_url, "--advertised-listener-url",
                                broker_url, "--storage-engine", "memory://tansu/"], LOAD_CPU))
            gateway, gw_url = start_gateway(upstream.url, f"127.0.0.1:{bport}", work)
            procs.append(gateway)
            urls, pgids = {"direct": upstream.url, "gateway": gw_url}, {"gateway": gateway.pid}
            if not args.no_litellm:
                litellm, urls["litellm"] = start_litellm(upstream.url, work)
                procs.append(litellm)
                pgids["litellm"] = litellm.pid
            os.sched_setaffinity(0, {LOAD_CPU})
            args.upstream_pgid = upstream.proc.pid
            print(f"{urls}; proxies on cpu {PROXY_CPU}, upstream, broker and clients on cpu {LOAD_CPU}",
                  file=sys.stderr)
            results = asyncio.run(measure(urls, pgids, args))
            if args.workers > 1:
                many, many_url = start_gateway(upstream.url, f"127.0.0.1:{bport}", work, workers=args.workers)
                procs.append(many)
                results["scaling"] = asyncio.run(scaling(gw_url, gateway.pid, many_url, many.pid, args))
        finally:
            for proc in reversed(procs):
                stop(proc)
    rows = results.pop("scaling", None)
    table = report(results)
    print(table)
    if rows:
        print("\n" + scaling_report(rows))  # type: ignore[arg-type]
        results["scaling"] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
