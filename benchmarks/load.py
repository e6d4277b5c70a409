"""`make bench-load`: our load tester beside guidellm and SGLang's bench_serving, in one run,
against the scripted server with a known token schedule.

1. accuracy: TTFT and ITL p50/p99 error against the truth (what the server did, /stats);
2. fidelity: achieved / target rate at 100 and 500 req/s (counted by the server);
3. capacity: the highest streaming request rate one pinned client core sustains.

Peers go into their own venvs under .bench/ (installed here when missing). A peer that
cannot run is reported with the reason instead of a number.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.scripted_llm import ScriptConfig, ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
PY = sys.executable
SERVER_CPU, CLIENT_CPU = 0, 1

PEER_INSTALLS = {
    "guidellm": [["torch==2.13.0"], ["guidellm==0.8.1"]],
    "sglang": [["torch==2.14.1", "torchvision==0.29.1"], ["--no-deps", "sglang==0.5.23"],
               ["orjson", "psutil", "pybase64", "requests", "pillow", "starlette", "msgspec", "pyzmq", "ipython",
                "apache-tvm-ffi", "sentencepiece", "compressed-tensors", "gguf", "transformers==5.19.0", "datasets",
                "aiohttp", "tqdm", "numpy"]],
}


# ------------------------------------------------------------------ peers

def peer_python(name: str) -> Path:
    return BENCH / name / "bin" / "python"


def ensure_peer(name: str) -> str | None:
    """Install the peer into its own venv; None when ready, else why not."""
    marker = BENCH / name / ".installed"
    if marker.exists():
        return None
    try:
        if not peer_python(name).exists():
            subprocess.run([PY, "-m", "venv", str(BENCH / name)], check=True)
        for pkgs in PEER_INSTALLS[name]:
            subprocess.run([str(peer_python(name)), "-m", "pip", "install", "-q", *pkgs], check=True)
        marker.touch()
        return None
    except subprocess.CalledProcessError as exc:
        return f"install failed: {exc}"


TOKENIZER_SCRIPT = """
import sys
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
words = sys.argv[2].split()
vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", *dict.fromkeys(words)])}
tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
fast.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
fast.save_pretrained(sys.argv[1])
"""


def build_tokenizer(peer: str, out: Path) -> None:
    from services.loadtester.domain.profiles import WORDS

    words = " ".join([*WORDS, *(f"w{i}" for i in range(600))])
    subprocess.run([str(peer_python(peer)), "-c", TOKENIZER_SCRIPT, str(out), words], check=True,
                   env={**os.environ, "HF_HUB_OFFLINE": "1"})


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd]


def call(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 150) -> None:
    """Run a tool; on failure raise with the tail of its stderr, which is what gets reported."""
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}")


def run_ours(url: str, mode: str, level: float, requests: int, lengths: str, out: Path,
             workers: int = 1, pin: bool = True) -> dict[str, Any]:
    cmd = [PY, "-m", "services.loadtester.entrypoints.cli", "bench", "--model", "scripted", "--model-url", url,
           "--mode", mode, "--levels", f"{level:g}", "--requests", str(requests),
           "--lengths", lengths, "--workers", str(workers), "--out", str(out)]
    cmd = pinned(CLIENT_CPU, cmd) if pin else cmd
    call(cmd, env={**os.environ, "COLUMNS": "200"})
    lv = json.loads((out / "results.json").read_text())["levels"][0]
    return {"ttft_p50": lv["ttft_ms"]["p50"], "ttft_p99": lv["ttft_ms"]["p99"], "itl_p50": lv["itl_ms"]["p50"],
            "itl_p99": lv["itl_ms"]["p99"], "rps": lv["request_rate"], "errors": lv["errors"],
            "client": lv["client"]}


def run_guidellm(url: str, profile: str, requests: int, prompt: int, output: int, tok: Path, out: Path,
                 pin: bool = True) -> dict[str, Any]:
    # one worker process: with more, its Poisson/constant profiles over-deliver (PEERS.md)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GUIDELLM__MAX_WORKER_PROCESSES": "1"}
    cmd = (pinned(CLIENT_CPU, []) if pin else []) + [str(BENCH / "guidellm/bin/guidellm"), "run", "--backend",
                              f"kind=openai_http,target={url},model=scripted", "--profile", profile,
                              "--constraint", f"kind=max_requests,count={requests}",
                              "--tokenizer", f"kind=hf_auto,model={tok}",
                              "--data", f"kind=synthetic_text,prompt_tokens={prompt},output_tokens={output}",
                              "--output", f"kind=json,path={out}", "--disable-progress"]
    call(cmd, env=env)
    m = json.loads(out.read_text())["benchmarks"][0]["metrics"]

    def stat(name: str, key: str) -> float:
        s = m[name]["successful"]
        return float(s["median"] if key == "p50" else s["percentiles"][key])

    return {"ttft_p50": stat("time_to_first_token_ms", "p50"), "ttft_p99": stat("time_to_first_token_ms", "p99"),
            "itl_p50": stat("inter_token_latency_ms", "p50"), "itl_p99": stat("inter_token_latency_ms", "p99"),
            "rps": float(m["requests_per_second"]["successful"]["mean"])}


def run_sglang(url: str, rate: float, requests: int, prompt: int, output: int, tok: Path, out: Path,
               max_concurrency: int | None = None, pin: bool = True) -> dict[str, Any]:
    """Poisson arrivals only: this release's bench_serving has no constant-rate option."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = (pinned(CLIENT_CPU, []) if pin else []) + [str(peer_python("sglang")), "-m", "sglang.bench_serving",
                                                     "--backend",
                              "sglang-oai-chat", "--base-url", url, "--model", "scripted", "--tokenizer", str(tok),
                              "--dataset-name", "random-ids", "--random-input-len", str(prompt),
                              "--random-output-len", str(output), "--random-range-ratio", "1",
                              "--num-prompts", str(requests), "--request-rate", f"{rate:g}",
                              "--output-file", str(out),
                              *(["--max-concurrency", str(max_concurrency)] if max_concurrency else [])]
    call(cmd, env=env)
    r = json.loads(out.read_text().strip().splitlines()[-1])
    return {"ttft_p50": r["median_ttft_ms"], "ttft_p99": r["p99_ttft_ms"], "itl_p50": r["median_itl_ms"],
            "itl_p99": r["p99_itl_ms"], "rps": r["request_throughput"]}


# ------------------------------------------------------------------ measurements

def server(**cfg: Any) -> ScriptedServer:
    return ScriptedServer(ScriptConfig(model="scripted", **cfg), cpu=SERVER_CPU)


def received_rates(srv: ScriptedServer) -> tuple[float, float]:
    """Arrival rate the server saw: over the whole span ((n-1) / (last - first), which a
    single late straggler lowers), and as the slope of a least-squares fit of arrival time
    against arrival index (drift of the arrival process, robust to stragglers at the ends)."""
    import numpy as np

    t0s = np.sort(np.asarray([t for t, _ in srv.stats(log=True)["log"]]))
    if len(t0s) < 2:
        return 0.0, 0.0
    slope = np.polyfit(np.arange(len(t0s)), t0s, 1)[0]
    return (len(t0s) - 1) / (t0s[-1] - t0s[0]), 1.0 / slope


def attempt(name: str, notes: dict[str, str], fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # a peer that cannot run is reported, not fatal
        notes[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return None


def accuracy(tools: dict[str, Any], tmp: Path, notes: dict[str, str], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server(ttft_ms=100, itl_ms=10, output_tokens=32) as srv:
        for name, fn in tools.items():
            srv.stats(reset=True)
            got = attempt(f"accuracy/{name}", notes, fn, srv.url, tmp / f"acc-{name}")
            if got is None:
                continue
            truth = srv.stats()
            got["truth"] = {"ttft_p50": truth["first_send_ms"]["p50"], "ttft_p99": truth["first_send_ms"]["p99"],
                            "itl_p50": truth["gap_ms"]["p50"], "itl_p99": truth["gap_ms"]["p99"]}
            got["error"] = {k: abs(got[k] - v) for k, v in got["truth"].items()}
            out[name] = got
    return out


def fidelity(tools: dict[str, Any], tmp: Path, notes: dict[str, str], rates: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server(ttft_ms=20, itl_ms=5, output_tokens=8) as srv:
        for rate in rates:
            for name, fn in tools.items():
                srv.stats(reset=True)
                n = int(rate * 4)
                got = attempt(f"fidelity/{name}/{rate:g}", notes, fn, srv.url, rate, n, tmp / f"fid-{name}-{rate:g}")
                if got is not None:
                    span, fit = received_rates(srv)
                    out.setdefault(name, {})[f"{rate:g}"] = {"received_rate": span, "ratio": span / rate,
                                                              "fit_rate": fit, "fit_ratio": fit / rate}
    return out


def child_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def capacity(tools: dict[str, Any], tmp: Path, notes: dict[str, str], streams: int, n: int) -> dict[str, Any]:
    """Completed req/s with the client pinned to one core, and the client's CPU per request:
    (CPU of an n-request run - CPU of a small run) / the extra requests, so start-up cost
    cancels. Requests per CPU-second is the per-core capacity that survives a shared machine."""
    out: dict[str, Any] = {}
    small = max(50, n // 10)
    with ScriptedServer(ScriptConfig(model="scripted", ttft_ms=5, itl_ms=1, output_tokens=8), cpu=SERVER_CPU,
                        workers=1) as srv:
        for name, fn in tools.items():
            cpu0 = child_cpu_s()
            base = attempt(f"capacity/{name}", notes, fn, srv.url, streams, small, tmp / f"cap0-{name}")
            cpu1 = child_cpu_s()
            got = attempt(f"capacity/{name}", notes, fn, srv.url, streams, n, tmp / f"cap-{name}")
            cpu2 = child_cpu_s()
            if got is not None and base is not None:
                got["cpu_ms_per_request"] = ((cpu2 - cpu1) - (cpu1 - cpu0)) / (n - small) * 1000
                got["requests_per_cpu_s"] = 1000 / got["cpu_ms_per_request"] if got["cpu_ms_per_request"] > 0 else None
                out[name] = got
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="requests for the accuracy run")
    ap.add_argument("--rates", default="100,500")
    ap.add_argument("--streams", type=int, default=128, help="closed-loop streams for the capacity run")
    ap.add_argument("--capacity-requests", type=int, default=3000)
    ap.add_argument("--peers", default="guidellm,sglang")
    ap.add_argument("--out", type=Path, default=ROOT / ".bench" / "load-results.json")
    args = ap.parse_args()
    notes: dict[str, str] = {}
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if (why := ensure_peer(p)) is not None:
            notes[p] = why
    peers = [p for p in peers if p not in notes]
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    tok = tmp / "tokenizer"
    if peers:
        build_tokenizer(peers[0], tok)
    rates = [float(r) for r in args.rates.split(",")]
    n = args.requests

    acc_tools: dict[str, Any] = {"challenger": lambda url, o: run_ours(url, "poisson", 20, n, "32:32", o)}
    # fidelity: whole machine, each tool as its user would run it (ours: auto worker processes)
    fid_tools: dict[str, Any] = {"challenger": lambda url, r, k, o: run_ours(url, "constant", r, k, "16:8", o,
                                                                             workers=0, pin=False)}
    cap_tools: dict[str, Any] = {"challenger": lambda url, s, k, o: run_ours(url, "concurrency", s, k, "16:8", o)}
    if "guidellm" in peers:
        acc_tools["guidellm"] = lambda url, o: run_guidellm(url, "kind=poisson,rate=20", n, 32, 32, tok,
                                                            o.with_suffix(".json"))
        fid_tools["guidellm"] = lambda url, r, k, o: run_guidellm(url, f"kind=constant,rate={r:g}", k, 16, 8, tok,
                                                                  o.with_suffix(".json"), pin=False)
        cap_tools["guidellm"] = lambda url, s, k, o: run_guidellm(url, f"kind=concurrent,streams={s}", k, 16, 8,
                                                                  tok, o.with_suffix(".json"))
    if "sglang" in peers:
        acc_tools["sglang"] = lambda url, o: run_sglang(url, 20, n, 32, 32, tok, o.with_suffix(".jsonl"))
        fid_tools["sglang"] = lambda url, r, k, o: run_sglang(url, r, k, 16, 8, tok, o.with_suffix(".jsonl"),
                                                              pin=False)
        cap_tools["sglang"] = lambda url, s, k, o: run_sglang(url, float("inf"), k, 16, 8, tok,
                                                              o.with_suffix(".jsonl"), max_concurrency=s)

    started = time.time()
    result = {"accuracy": accuracy(acc_tools, tmp, notes, n),
              "fidelity": fidelity(fid_tools, tmp, notes, rates),
              "capacity": capacity(cap_tools, tmp, notes, args.streams, args.capacity_requests),
              "notes": notes, "seconds": round(time.time() - started, 1),
              "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_summary(result)
    print(f"\nraw results: {args.out}")


def print_summary(r: dict[str, Any]) -> None:
    print("== accuracy (abs error vs server truth, ms) ==")
    for name, got in r["accuracy"].items():
        e = got["error"]
        print(f"{name:11s} TTFT p50 {e['ttft_p50']:7.3f} p99 {e['ttft_p99']:7.3f} | "
              f"ITL p50 {e['itl_p50']:7.3f} p99 {e['itl_p99']:7.3f}")
    ours = r["accuracy"].get("challenger", {}).get("error")
    for name, got in r["accuracy"].items():
        if name != "challenger" and ours:
            ratios = {k: (ours[k] / v if v else float("inf")) for k, v in got["error"].items()}
            print(f"  ours/{name} error ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print("== fidelity (server-received / target rate) ==")
    for name, levels in r["fidelity"].items():
        print(f"{name:11s} " + "  ".join(f"{k}/s: span {v['ratio']:.3f} fit {v['fit_ratio']:.3f}"
                                         for k, v in levels.items()))
    print("== capacity (client pinned to one core: completed streaming req/s; client CPU per request) ==")
    for name, got in r["capacity"].items():
        print(f"{name:11s} {got['rps']:8.1f} req/s  {got['cpu_ms_per_request']:7.3f} CPU ms/request "
              f"= {got['requests_per_cpu_s'] or 0:8.1f} req per CPU-second")
    ours = r["capacity"].get("challenger")
    for name, got in r["capacity"].items():
        if ours and name != "challenger" and got["rps"] and got["requests_per_cpu_s"]:
            print(f"  ours/{name}: {ours['rps'] / got['rps']:.2f}x req/s, "
                  f"{(ours['requests_per_cpu_s'] or 0) / got['requests_per_cpu_s']:.2f}x req per CPU-second")
    for k, v in r["notes"].items():
        print(f"note {k}: {v}")


if __name__ == "__main__":
    main()
