"""Writes a run's results: results.json, PNG charts and an HTML page that embeds them."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from services.loadtester.domain.metrics import LevelSummary, itls, ttft  # noqa: E402
from services.loadtester.domain.records import RequestRecord  # noqa: E402


def write_report(out_dir: Path, title: str, levels: list[LevelSummary], records: list[RequestRecord],
                 extra: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"title": title, **extra, "levels": [asdict(s) for s in levels]}
    (out_dir / "results.json").write_text(json.dumps(result, indent=2, default=str))
    charts = [_curve(out_dir, levels), _distribution(out_dir, records)]
    (out_dir / "report.html").write_text(_html(title, levels, [c for c in charts if c], extra))
    return out_dir / "report.html"


def _curve(out_dir: Path, levels: list[LevelSummary]) -> str | None:
    points = [(s.output_tokens_per_s, s.ttft_ms["p50"], s.e2e_ms["p50"], s.level)
              for s in levels if s.ttft_ms and s.e2e_ms]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p[0] for p in points]
    ax.plot(xs, [p[1] for p in points], "o-", label="TTFT p50")
    ax.plot(xs, [p[2] for p in points], "s-", label="E2E p50")
    for x, _, y, level in points:
        ax.annotate(f"{level:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("output tokens/s")
    ax.set_ylabel("latency (ms)")
    ax.set_title("latency vs throughput (labels: level)")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, out_dir / "latency_throughput.png")


def _distribution(out_dir: Path, records: list[RequestRecord]) -> str | None:
    ok = [r for r in records if r.ok and not r.warmup]
    if not ok:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.hist([ttft(r) * 1000 for r in ok], bins=40)
    a.set_title("TTFT (ms)")
    b.hist([g * 1000 for r in ok for g in itls(r)] or [0.0], bins=40)
    b.set_title("ITL per token (ms)")
    return _save(fig, out_dir / "ttft_itl.png")


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def _cell(p: dict[str, float] | None, key: str) -> str:
    return f"{p[key]:.2f}" if p else "-"


def _html(title: str, levels: list[LevelSummary], charts: list[str], extra: dict[str, Any]) -> str:
    head = ("<tr><th>level</th><th>req</th><th>err</th><th>achieved/s</th><th>req/s</th><th>in tok (target)</th>"
            "<th>out tok/s</th><th>goodput/s</th><th>TTFT p50</th><th>TTFT p99</th><th>ITL p50</th><th>ITL p99</th>"
            "<th>E2E p50</th><th>post p50</th><th>client-bound</th></tr>")
    rows = "".join(
        f"<tr><td>{s.level:g}</td><td>{s.requests}</td><td>{s.errors} {html.escape(str(s.errors_by_type or ''))}"
        f"</td><td>{s.achieved_rate or 0:.2f}</td><td>{s.request_rate:.2f}</td>"
        f"<td>{s.mean_input_tokens:.0f} ({s.target_input_tokens:.0f})</td><td>{s.output_tokens_per_s:.1f}</td>"
        f"<td>{s.goodput_rps:.2f}</td><td>{_cell(s.ttft_ms, 'p50')}</td><td>{_cell(s.ttft_ms, 'p99')}</td>"
        f"<td>{_cell(s.itl_ms, 'p50')}</td><td>{_cell(s.itl_ms, 'p99')}</td><td>{_cell(s.e2e_ms, 'p50')}</td>"
        f"<td>{_cell(s.postprocess_ms, 'p50')}</td><td>{'yes' if s.client_bound else 'no'}</td></tr>" for s in levels)
    imgs = "".join(f'<img src="{c}" alt="{c}">' for c in charts)
    meta = html.escape(json.dumps(extra, indent=2, default=str))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
            "table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table>{head}{rows}</table>{imgs}<pre>{meta}</pre></body></html>")
