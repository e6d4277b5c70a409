"""`make bench-fallback`: 200 concurrent streaming clients through the real gateway process
while the primary upstream fails and the route falls back; the same load and the same failure
through the LiteLLM proxy's router with a fallback, side by side.

Setup per scenario (fresh processes each time): two scripted upstreams streaming one token
per chunk at a realistic pace (default TTFT 200 ms, ITL 40 ms, 64 tokens), `primary` and
`fallback`; the proxy pinned to CPU 0; the upstreams, the broker and this load generator
(200 keep-alive raw-socket clients in a closed loop) on CPU 1. After `--before` seconds the
primary fails:
  * kill: SIGKILL (streams in flight on it die mid-answer, new connections are refused);
  * 5xx:  it answers every new request with 503 (streams in flight finish).
Our gateway falls back per request through its fallback chain at once; `--route-delay` s
later a deployer-style `route.updated` (the fallback as the only target) is published to
Kafka, and the gateway stops trying the primary. LiteLLM falls back with its router
(`fallbacks: [{bench: [bench-fallback]}]`, its default retries and cooldowns).

What counts, per client request:
  * ok: 200, every token, `data: [DONE]`;
  * interrupted: 200, and the stream ended with an SSE `error` event because its upstream
    died after the answer had started. The gateway retries transparently only before the
    first token (role-only chunks are held back until then); after it, a replay would
    contradict text the client already has, so it tells the client in the stream (OpenAI's
    `{"error": ...}` event) and closes the response properly. Reported apart, not as failed;
  * failed: anything else: an error status, a refused or reset connection, a response cut
    off without a word.
Phases are by request start: before the failure, during (the first `--during` s after it),
after. TTFT = request sent -> first content token; ITL = gaps between content chunks.

LiteLLM is installed into .bench/litellm by benchmarks.gateway on first use.
Run: python -m benchmarks.gateway_fallback [--clients 200 --before 8 --during 5 --after 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.gateway import (
    LOAD_CPU,
    ROUTE,
    Connection,
    cpu_seconds,
    litellm_model,
    pct,
    route_target,
    spawn,
    start_gateway,
    start_litellm,
    stop,
)
from challenger.stack.broker import tansu_binary
from services.gateway.entrypoints.cli import build_update, publish_update
from services.loadtester.adapters.client import _Stream as SSEReader
from services.loadtester.adapters.protocols import OpenAIChat
from services.loadtester.domain.records import RequestRecord
from shared.process import free_port
from tests.support.scripted_llm import ScriptedServer, start_scripted_llm

FALLBACK_ROUTE = f"{ROUTE}-fallback"
PHASES = ("before", "during", "after")


# ---------------------------------------------------------------- one client request

class Stream:
    """What one client saw of one streamed request. The SSE is read by the load tester's
    reader (content chunk times, `error` events, `[DONE]`)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.record = RequestRecord(scheduled=start, sent=start)
        self.reader = SSEReader(OpenAIChat(), self.record)
        self.status = 0
        self.served_by = "?"
        self.outcome = "unfinished"  # still streaming when the drain ran out
        self.detail = ""
        self.end = float("inf")

    @property
    def tokens(self) -> list[float]:
        return self.record.chunk_times

    def feed(self, piece: bytes) -> None:
        self.reader.feed(piece, time.perf_counter())

    def settle(self, head: bytes, names: dict[str, str]) -> None:
        """`names`: upstream base URL -> name, for LiteLLM's x-litellm-model-api-base header."""
        self.status = int(head[9:12])
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"x-challenger-target", b"x-litellm-model-api-base"):
                text = value.strip().decode()
                self.served_by = names.get(text.removesuffix("/").removesuffix("/v1"), text)
        done, error = self.reader.done, self.record.error
        if self.status == 200 and done and not error:
            self.outcome = "ok"
        elif self.status == 200 and error == "stream_error":
            self.outcome = "interrupted"
        else:
            self.outcome, self.detail = "failed", f"HTTP {self.status}, [DONE] {done}, error {error}"


def request_bytes(url: str, tokens: int) -> bytes:
    body = json.dumps({"model": ROUTE, "messages": [{"role": "user", "content": "tell me a long story"}],
                       "max_tokens": tokens, "stream": True}).encode()
    host = url.split("//", 1)[1]
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer sk-local-test\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def client(url: str, raw: bytes, delay: float, until: float, streams: list[Stream],
                 names: dict[str, str]) -> None:
    await asyncio.sleep(delay)
    conn = Connection(url)
    while time.perf_counter() < until:
        stream = Stream(time.perf_counter())
        streams.append(stream)
        try:
            stream.settle((await conn.request(raw, stream.feed)).head, names)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            stream.outcome, stream.detail = "failed", f"{type(exc).__name__}: {exc}"[:200]
            conn.close()
        stream.end = time.perf_counter()
        if stream.outcome == "failed":
            await asyncio.sleep(0.05)  # a refused connection must not spin
    conn.close()


# ---------------------------------------------------------------- the failure

@dataclass
class Scenario:
    proxy: str  # gateway | litellm
    failure: str  # kill | 5xx
    route_update: bool


@dataclass
class Events:
    """When things happened, on time.perf_counter()."""

    failed_at: float = 0.0
    update_published: float | None = None
    update_applied: float | None = None
    primary_errors_at_apply: float | None = None
    primary_errors_at_end: float | None = None
    loop_lag_ms: list[float] = field(default_factory=list)
    upstream_primary: dict[str, Any] = field(default_factory=dict)  # its schedule as kept, before the failure
    upstream_fallback: dict[str, Any] = field(default_factory=dict)


def fail(primary: ScriptedServer, failure: str) -> None:
    if failure == "kill":
        os.killpg(primary.proc.pid, signal.SIGKILL)
    else:
        primary.script(error_rate=1.0, error_status=503)


def primary_errors(metrics: str) -> float:
    """Failed attempts on the primary so far (gateway_upstream_errors_total)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("gateway_upstream_errors_total{") and 'target="primary"' in line)


async def move_route(url: str, broker: str, fallback: str, events: Events) -> None:
    """What the deployer does on a degradation: publish the fallback as the route's only target."""
    update = build_update(ROUTE, [f"fallback={fallback}=fallback"], [], [], None, None, False, None)
    events.update_published = time.perf_counter()
    await publish_update(broker, update)
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            tables = (await http.get("/routes")).json()
            if any(t["route"] == ROUTE and t["revision"] == update.revision for t in tables):
                events.update_applied = time.perf_counter()
                events.primary_errors_at_apply = primary_errors((await http.get("/metrics")).text)
                return
            await asyncio.sleep(0.02)


async def loop_lag(lags: list[float], tick: float = 0.01) -> None:
    """How late this load generator's event loop wakes up: if it lags, it is the bottleneck."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(tick)
        lags.append((time.perf_counter() - before - tick) * 1000)


async def drive(url: str, scenario: Scenario, primary: ScriptedServer, fallback: ScriptedServer, broker: str,
                args: argparse.Namespace) -> tuple[list[Stream], Events, float]:
    raw = request_bytes(url, args.tokens)
    streams: list[Stream] = []
    events = Events()
    lag_task = asyncio.create_task(loop_lag(events.loop_lag_ms))
    t0 = time.perf_counter()
    until = t0 + args.warmup + args.before + args.during + args.after
    # staggered over one stream's length, so requests arrive steadily rather than in lock-step rounds
    length = (args.ttft_ms + args.tokens * args.itl_ms) / 1000
    names = {primary.url: "primary", fallback.url: "fallback"}
    clients = [asyncio.create_task(client(url, raw, i * length / args.clients, until, streams, names))
               for i in range(args.clients)]
    await asyncio.sleep(args.warmup)
    await asyncio.to_thread(primary.stats, True)  # reset: the upstream's own truth from here on
    await asyncio.sleep(args.before)
    events.upstream_primary = await asyncio.to_thread(primary.stats)
    events.failed_at = time.perf_counter()
    await asyncio.to_thread(fail, primary, scenario.failure)
    if scenario.route_update:
        await asyncio.sleep(args.route_delay)
        await move_route(url, broker, fallback.url, events)
    done, pending = await asyncio.wait(clients, timeout=until - time.perf_counter() + args.drain)
    for task in pending:  # still stuck after the drain: each one's request counts as unfinished
        task.cancel()
    lag_task.cancel()
    events.upstream_fallback = await asyncio.to_thread(fallback.stats)
    if scenario.proxy == "gateway":
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            events.primary_errors_at_end = primary_errors((await http.get("/metrics")).text)
    return streams, events, t0 + args.warmup


# ---------------------------------------------------------------- figures

def phase_of(stream: Stream, events: Events, args: argparse.Namespace) -> str:
    if stream.start < events.failed_at:
        return "before"
    return "during" if stream.start < events.failed_at + args.during else "after"


def summarize(streams: list[Stream], events: Events, measured_from: float,
              args: argparse.Namespace) -> dict[str, Any]:
    """Counts over every request of the run (warm-up included: those are in flight when the
    primary fails too); req/s over the measured window; latencies by phase of request start."""
    measured = [s for s in streams if s.start >= measured_from]
    window_end = events.failed_at + args.during + args.after
    out: dict[str, Any] = {
        "requests": len(streams),
        "ok": sum(s.outcome == "ok" for s in streams),
        "failed": sum(s.outcome == "failed" for s in streams),
        "interrupted": sum(s.outcome == "interrupted" for s in streams),
        "unfinished": sum(s.outcome == "unfinished" for s in streams),
        "req_per_s": sum(measured_from <= s.end <= window_end for s in streams) / (window_end - measured_from),
        "failures": sorted({s.detail for s in streams if s.outcome == "failed"})[:5],
        "served_by": {}, "phases": {},
    }
    for s in streams:
        out["served_by"][s.served_by] = out["served_by"].get(s.served_by, 0) + 1
    for phase in PHASES:
        group = [s for s in measured if phase_of(s, events, args) == phase]
        ttft = [(s.tokens[0] - s.start) * 1000 for s in group if s.tokens]
        itl = [(b - a) * 1000 for s in group for a, b in zip(s.tokens, s.tokens[1:], strict=False)]
        out["phases"][phase] = {
            "requests": len(group), "interrupted": sum(s.outcome == "interrupted" for s in group),
            "failed": sum(s.outcome == "failed" for s in group),
            "ttft_p50": pct(ttft, 0.5) if ttft else None, "ttft_p99": pct(ttft, 0.99) if ttft else None,
            "itl_p50": pct(itl, 0.5) if itl else None, "itl_p99": pct(itl, 0.99) if itl else None}
    out["timeline"] = timeline(streams, events)
    fallback_firsts = [s.tokens[0] for s in streams if s.tokens and s.served_by == "fallback"
                       and s.start >= events.failed_at]
    out["time_to_fallback_s"] = min(fallback_firsts) - events.failed_at if fallback_firsts else None
    if events.update_applied is not None and events.update_published is not None:
        out["route_update_applied_s"] = events.update_applied - events.update_published
        out["primary_attempts_after_update"] = ((events.primary_errors_at_end or 0)
                                                - (events.primary_errors_at_apply or 0))
    return out


def timeline(streams: list[Stream], events: Events, step: float = 1.0) -> list[dict[str, Any]]:
    """Second by second around the failure (by request start): how many started, their TTFT
    p50, how many the fallback served, how many were cut or failed."""
    bins: dict[int, list[Stream]] = {}
    for s in streams:
        bins.setdefault(int((s.start - events.failed_at) // step), []).append(s)
    rows = []
    for k in sorted(bins):
        group = bins[k]
        ttft = [(s.tokens[0] - s.start) * 1000 for s in group if s.tokens]
        rows.append({"t_s": k * step, "started": len(group), "ttft_p50": round(pct(ttft, 0.5)) if ttft else None,
                     "fallback": sum(s.served_by == "fallback" for s in group),
                     "interrupted": sum(s.outcome == "interrupted" for s in group),
                     "failed": sum(s.outcome == "failed" for s in group)})
    return rows


# ---------------------------------------------------------------- processes

@contextlib.contextmanager
def upstreams(args: argparse.Namespace) -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    script = {"ttft_ms": args.ttft_ms, "itl_ms": args.itl_ms, "output_tokens": args.tokens}
    with start_scripted_llm(cpu=LOAD_CPU, model="primary", **script) as primary, \
            start_scripted_llm(cpu=LOAD_CPU, model="fallback", **script) as fallback:
        yield primary, fallback


def start_proxy(scenario: Scenario, primary: ScriptedServer, fallback: ScriptedServer, broker: str,
                work: Path) -> tuple[subprocess.Popen, str]:
    if scenario.proxy == "gateway":
        table = {"targets": [route_target("primary", primary.url, "primary")],
                 "fallbacks": [route_target("fallback", fallback.url, "fallback")]}
        return start_gateway(primary.url, broker, work, table=table, subscribe=True)
    models = [litellm_model(ROUTE, primary.url, "primary"), litellm_model(FALLBACK_ROUTE, fallback.url, "fallback")]
    return start_litellm(primary.url, work, models=models, router_settings={"fallbacks": [{ROUTE: [FALLBACK_ROUTE]}]})


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    """Fresh processes, broker included (a gateway replays route.updated from the start)."""
    with tempfile.TemporaryDirectory() as tmp, broker_process() as broker, upstreams(args) as (primary, fallback):
        proxy, url = start_proxy(scenario, primary, fallback, broker, Path(tmp))
        try:
            cpu0, own0, wall0 = cpu_seconds(proxy.pid), time.process_time(), time.perf_counter()
            streams, events, measured_from = asyncio.run(drive(url, scenario, primary, fallback, broker, args))
            cpu, own, wall = (cpu_seconds(proxy.pid) - cpu0, time.process_time() - own0,
                              time.perf_counter() - wall0)
        finally:
            stop(proxy)
    result = summarize(streams, events, measured_from, args)
    lags = events.loop_lag_ms
    result["upstreams"] = {"primary, before the failure": events.upstream_primary,
                           "fallback, whole run": events.upstream_fallback}
    result.update(cpu_ms_per_request=cpu * 1000 / max(1, len(streams)), proxy_cpu_share=cpu / wall,
                  client_cpu_share=own / wall, client_loop_lag_p50_ms=pct(lags, 0.5),
                  client_loop_lag_p99_ms=pct(lags, 0.99))
    return result


@contextlib.contextmanager
def broker_process() -> Iterator[str]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = spawn([tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                  "--storage-engine", "memory://tansu/"], LOAD_CPU)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)


# ---------------------------------------------------------------- report

def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _ratio(ours: float | None, theirs: float | None, higher_is_better: bool = False) -> str:
    if not ours or not theirs:
        return "-"
    return f"{(ours / theirs if higher_is_better else theirs / ours):.1f}x"


def report(results: dict[str, dict[str, Any]], failure: str, args: argparse.Namespace) -> str:
    ours, theirs = results[f"gateway/{failure}"], results.get(f"litellm/{failure}")
    rows: list[tuple[str, Callable[[dict[str, Any]], Any], bool | None]] = [
        ("requests", lambda r: r["requests"], None),
        ("failed client requests", lambda r: r["failed"], None),
        ("streams interrupted (SSE error event)", lambda r: r["interrupted"], None),
        (f"streams unfinished {args.drain:.0f} s after the run", lambda r: r["unfinished"], None),
        ("req/s", lambda r: round(r["req_per_s"], 1), True),
        ("proxy CPU ms per request (all requests of the run)", lambda r: round(r["cpu_ms_per_request"], 2), False),
        ("proxy CPU use, share of its core", lambda r: round(r["proxy_cpu_share"], 2), None),
        ("load generator: CPU share / loop lag p99 ms",
         lambda r: f"{r['client_cpu_share']:.2f} / {r['client_loop_lag_p99_ms']:.0f}", None),
        ("time to fallback s (failure -> first fallback token)",
         lambda r: None if r["time_to_fallback_s"] is None else round(r["time_to_fallback_s"], 2), False),
    ]
    for phase in PHASES:  # no ratio for ITL: a proxy that falls behind delivers tokens in bursts (ITL ~0)
        for metric in ("ttft_p50", "ttft_p99", "itl_p50", "itl_p99"):
            rows.append((f"{metric.replace('_', ' ')} ms, {phase}",
                         lambda r, p=phase, m=metric: r["phases"][p][m], False if metric.startswith("ttft") else None))
    lines = [f"failure: {failure}", "| figure | challenger | LiteLLM | LiteLLM / ours |", "|---|---|---|---|"]
    for name, get, higher in rows:
        a, b = get(ours), get(theirs) if theirs else None
        fmt = (lambda v: _ms(v)) if name.startswith(("ttft", "itl")) else (lambda v: "-" if v is None else str(v))
        ratio = "" if higher is None else _ratio(a, b, higher)
        if higher:
            ratio += " (ours / LiteLLM)"
        lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {ratio} |")
    if "route_update_applied_s" in ours:
        lines.append(f"| route.updated published -> applied s | {ours['route_update_applied_s']:.2f} | n/a | |")
        lines.append(f"| primary attempts after the update applied | {ours['primary_attempts_after_update']:.0f} "
                     "| n/a | |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds not measured at the start (> a stream)")
    p.add_argument("--before", type=float, default=8.0)
    p.add_argument("--during", type=float, default=5.0)
    p.add_argument("--after", type=float, default=8.0)
    p.add_argument("--drain", type=float, default=90.0, help="how long to wait for the last streams")
    p.add_argument("--route-delay", type=float, default=1.0, help="failure -> route.updated published (gateway)")
    p.add_argument("--ttft-ms", type=float, default=200.0)
    p.add_argument("--itl-ms", type=float, default=40.0)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--failures", default="kill,5xx")
    p.add_argument("--proxies", default="gateway,litellm")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    os.sched_setaffinity(0, {LOAD_CPU})
    results: dict[str, dict[str, Any]] = {}
    for failure in args.failures.split(","):
        for proxy in args.proxies.split(","):
            scenario = Scenario(proxy, failure, route_update=proxy == "gateway")
            print(f"== {proxy}, primary {failure}", flush=True)
            results[f"{proxy}/{failure}"] = res = run_scenario(scenario, args)
            print(json.dumps(res, indent=1), flush=True)
    for failure in args.failures.split(","):
        if f"gateway/{failure}" in results:
            print(report(results, failure, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
