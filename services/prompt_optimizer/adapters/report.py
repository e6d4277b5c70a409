"""The run report: `index.html` plus `rounds.png` (each round's prompts and validation scores,
and score against prompt tokens with the Pareto set marked)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from services.prompt_optimizer.domain.optimize import Outcome  # noqa: E402
from services.prompt_optimizer.domain.trials import Trial  # noqa: E402

COLOURS = {"baseline": "#444444", "opro": "#1f77b4", "fewshot": "#ff7f0e"}


def _best_so_far(trials: list[Trial]) -> tuple[list[int], list[float]]:
    rounds = sorted({t.variant.round for t in trials})
    best, ys = 0.0, []
    for r in rounds:
        best = max([best] + [t.mean for t in trials if t.variant.round == r])
        ys.append(best)
    return rounds, ys


def write_chart(outcome: Outcome, path: Path) -> Path:
    trials = outcome.search.trials
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for origin, colour in COLOURS.items():
        mine = [t for t in trials if t.variant.origin == origin]
        left.scatter([t.variant.round for t in mine], [t.mean for t in mine], c=colour, label=origin, alpha=0.8)
        right.scatter([t.input_tokens for t in mine], [t.mean for t in mine], c=colour, label=origin, alpha=0.8)
    left.step(*_best_so_far(trials), where="post", color="green", label="best so far")
    for t in trials:
        left.annotate(t.variant.id, (t.variant.round, t.mean), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = sorted(outcome.pareto, key=lambda t: t.input_tokens)
    right.plot([t.input_tokens for t in front], [t.mean for t in front], "g--", marker="o", mfc="none",
               ms=11, label="Pareto set")
    left.set(xlabel="round", ylabel="validation score", title="Validation score per round", ylim=(-0.05, 1.05))
    right.set(xlabel="mean prompt tokens", ylabel="validation score", title="Score vs prompt cost",
              ylim=(-0.05, 1.05))
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _row(t: Trial, outcome: Outcome) -> str:
    marks = " ".join(m for m, on in (("best", t is outcome.best), ("pareto", t in outcome.pareto)) if on)
    return (f"<tr><td>{t.variant.id}</td><td>{t.variant.round}</td><td>{t.variant.origin}</td>"
            f"<td>{t.mean:.3f}</td><td>{t.input_tokens:.1f}</td><td>{t.latency_ms:.0f}</td><td>{marks}</td>"
            f"<td><pre>{html.escape(t.template)}</pre></td></tr>")


def _test_line(outcome: Outcome) -> str:
    base, best = outcome.baseline_test, outcome.best_test
    if base is None:
        return "<p>The held-out test was not run.</p>"
    after = f"{best.mean:.3f}" if best is not None else "(not tested)"
    return f"<p>Held-out test (n={len(base.scores)}): current prompt {base.mean:.3f}, best prompt {after}.</p>"


def write_html(outcome: Outcome, title: str, chart: Path, path: Path) -> Path:
    verdict = "ACCEPTED" if outcome.promoted else "NOT PROMOTED"
    s = outcome.splits
    spent = ", ".join(f"{k}={v}" for k, v in outcome.spent.as_dict().items())
    rows = "\n".join(_row(t, outcome) for t in outcome.search.trials)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}pre{{margin:0;white-space:pre-wrap;max-width:60em}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>{verdict}</h2><p>{html.escape(outcome.decision.reason)}</p>
{_test_line(outcome)}
<p>Splits (seed {s.seed}): train {len(s.train)}, validation {len(s.validation)}, held-out test {len(s.test)}.
Search stopped: {html.escape(outcome.search.stopped)} after {outcome.search.rounds} round(s). Spent: {spent}.</p>
<img src="{chart.name}" alt="scores per round">
<h2>Variants (validation)</h2>
<table><tr><th>id</th><th>round</th><th>origin</th><th>score</th><th>prompt tokens</th><th>latency ms</th>
<th></th><th>template</th></tr>
{rows}
</table></body></html>
""")
    return path


def write_report(outcome: Outcome, title: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    chart = write_chart(outcome, directory / "rounds.png")
    return write_html(outcome, title, chart, directory / "index.html")
