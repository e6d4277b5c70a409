"""Where a load tester's TTFT error comes from, request by request: `python -m benchmarks.load_paths`.

Against the scripted server (pinned to CPU 0), our client (pinned to CPU 1) runs one Poisson
level; the server's per-request log (`/stats?log=1`: its kernel arrival stamp t0 and its first
content send, on the monotonic clock both processes share) splits each measured TTFT into
  send path  = server t0 - our `sent`          (client-side delay we would wrongly count)
  server     = server first send - server t0    (the truth)
  recv path  = our first-chunk stamp - server first send
and prints their percentiles and the worst requests. Requests are matched by order.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import numpy as np

from services.loadtester.adapters.generator import LevelPlan, run_level
from services.loadtester.domain.profiles import LengthProfile
from tests.support.scripted_llm import ScriptConfig, ScriptedServer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    with ScriptedServer(ScriptConfig(model="scripted", ttft_ms=100, itl_ms=10, output_tokens=32), cpu=0) as srv:
        plan = LevelPlan(url=srv.url, model="scripted", mode="poisson", level=args.rate, requests=args.requests,
                         lengths=LengthProfile("fixed", 32, 32))
        records, client = asyncio.run(run_level(plan))
        log = sorted(srv.stats(log=True)["log"])
    ok = sorted((r for r in records if r.ok), key=lambda r: r.sent)
    parts: dict[str, list[float]] = {"send path": [], "server (truth)": [], "recv path": [], "our TTFT": []}
    for r, (t0, first) in zip(ok, log, strict=False):
        parts["send path"].append((t0 - r.sent) * 1000)
        parts["server (truth)"].append((first - t0) * 1000)
        parts["recv path"].append((r.chunk_times[0] - first) * 1000)
        parts["our TTFT"].append((r.chunk_times[0] - r.sent) * 1000)
    print(f"{'ms':16s}{'p50':>9s}{'p90':>9s}{'p99':>9s}{'max':>9s}")
    for name, xs in parts.items():
        print(f"{name:16s}" + "".join(f"{np.percentile(xs, q):9.2f}" for q in (50, 90, 99, 100)))
    ours, truth = parts["our TTFT"], parts["server (truth)"]
    print(f"TTFT error p50 {abs(np.percentile(ours, 50) - np.percentile(truth, 50)):.2f} ms, "
          f"p99 {abs(np.percentile(ours, 99) - np.percentile(truth, 99)):.2f} ms")
    for i in np.argsort(ours)[-5:]:
        print(f"worst #{i}: send {parts['send path'][i]:.2f} server {truth[i]:.2f} recv {parts['recv path'][i]:.2f}")
    print("client:", {k: round(v, 3) for k, v in client.items()}, "load average:", os.getloadavg())


if __name__ == "__main__":
    main()
