"""The configuration search report: `index.html` plus `frontier.png` (accuracy vs cost, p95
latency as colour, 95% CI bars, the frontier circled, the recommendation starred)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from services.prompt_optimizer.domain.config_search import ConfigOutcome  # noqa: E402
from services.prompt_optimizer.domain.recommend import Summary  # noqa: E402


def write_scatter(outcome: ConfigOutcome, path: Path) -> Path:
    rows = outcome.summaries
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.errorbar([s.cost for s in rows], [s.accuracy for s in rows],
                yerr=[[s.accuracy - s.ci_low for s in rows], [s.ci_high - s.accuracy for s in rows]],
                fmt="none", ecolor="#bbbbbb", zorder=1)
    dots = ax.scatter([s.cost for s in rows], [s.accuracy for s in rows], c=[s.p95_ms for s in rows],
                      cmap="viridis", s=[70 if s.finalist else 25 for s in rows], zorder=2)
    fig.colorbar(dots, ax=ax, label="p95 latency (ms)")
    front = outcome.frontier
    ax.scatter([s.cost for s in front], [s.accuracy for s in front], s=260, facecolors="none",
               edgecolors="green", label="Pareto frontier (finalists)", zorder=3)
    chosen = outcome.recommendation.chosen
    ax.scatter([chosen.cost], [chosen.accuracy], marker="*", s=320, c="red", label="recommended", zorder=4)
    for s in rows:
        ax.annotate(s.arm.variant.id, (s.cost, s.accuracy), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel=outcome.cost_unit, ylabel="accuracy (95% CI)", ylim=(-0.05, 1.05),
           title="Configuration search: accuracy vs cost")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _row(s: Summary, outcome: ConfigOutcome) -> str:
    marks = " ".join(m for m, on in (("recommended", s is outcome.recommendation.chosen),
                                     ("frontier", s in outcome.frontier), ("finalist", s.finalist)) if on)
    stab = f"{s.stability:.3f}" if s.stability is not None else "-"
    return (f"<tr><td>{s.arm.variant.id}</td><td>{html.escape(s.arm.variant.label())}</td><td>{s.n}</td>"
            f"<td>{s.accuracy:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]</td><td>{stab}</td><td>{s.p95_ms:.0f}</td>"
            f"<td>{s.cost:.4g}</td><td>{marks}</td></tr>")


def write_config_report(outcome: ConfigOutcome, title: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    chart = write_scatter(outcome, directory / "frontier.png")
    sched = outcome.halving.schedule
    spent = ", ".join(f"{k}={v}" for k, v in outcome.spent.as_dict().items())
    rows = "\n".join(_row(s, outcome) for s in sorted(outcome.summaries, key=lambda s: (-s.n, -s.accuracy)))
    path = directory / "index.html"
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px}}
table{{border-collapse:collapse}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(outcome.recommendation.reason)}</p>
<p>Successive halving: {len(outcome.variants)} variants; items per rung {list(sched.rung_items)}, variants per
rung {list(sched.rung_arms)}; finalists: stability over {sched.repeats} runs on {sched.stability_items} items and a
load test of {sched.load_calls} calls at concurrency {sched.load_concurrency} (their p95 is the latency shown).
Planned {sched.calls} evaluation calls; stopped: {html.escape(outcome.halving.stopped)}. Spent: {spent}.</p>
<img src="{chart.name}" alt="frontier">
<table><tr><th>id</th><th>config</th><th>n</th><th>accuracy [95% CI]</th><th>stability</th><th>p95 ms</th>
<th>{html.escape(outcome.cost_unit)}</th><th></th></tr>
{rows}
</table></body></html>
""")
    return path
