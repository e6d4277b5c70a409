"""The configuration search report: `index.html` with the frontier scatter inline (the same
chart the dashboard draws, from the same `config_search.completed` variants) and the table."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from schemas.events.prompts import ConfigVariantResult
from services.prompt_optimizer.domain.config_search import ConfigOutcome
from shared.frontier_chart import frontier_svg


def _row(v: ConfigVariantResult) -> str:
    marks = " ".join(m for m, on in (("recommended", v.recommended), ("frontier", v.frontier),
                                     ("finalist", v.finalist)) if on)
    stab = f"{v.stability:.3f}" if v.stability is not None else "-"
    return (f"<tr><td>{html.escape(v.variant)}</td><td>{html.escape(v.label)}</td><td>{v.n}</td><td>{v.rung}</td>"
            f"<td>{v.accuracy:.3f} [{v.ci_low:.3f}, {v.ci_high:.3f}]</td><td>{stab}</td><td>{v.p95_ms:.0f}</td>"
            f"<td>{v.cost:.4g}</td><td>{marks}</td></tr>")


def write_config_report(outcome: ConfigOutcome, variants: Sequence[ConfigVariantResult], title: str,
                        directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    sched = outcome.halving.schedule
    spent = ", ".join(f"{k}={v}" for k, v in outcome.spent.as_dict().items())
    rows = "\n".join(_row(v) for v in sorted(variants, key=lambda v: (-v.n, -v.accuracy)))
    chart = frontier_svg(variants, cost_unit=outcome.cost_unit, title="Configuration search: accuracy vs cost")
    path = directory / "index.html"
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#1f2328}}td,th{{border:1px solid #ccc;padding:4px}}
table{{border-collapse:collapse}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(outcome.recommendation.reason)}</p>
<p>Successive halving: {len(outcome.variants)} variants; items per rung {list(sched.rung_items)}, variants per
rung {list(sched.rung_arms)}; finalists: stability over {sched.repeats} runs on {sched.stability_items} items and a
load test of {sched.load_calls} calls at concurrency {sched.load_concurrency} (their p95 is the latency shown).
Planned {sched.calls} evaluation calls; stopped: {html.escape(outcome.halving.stopped)}. Spent: {spent}.</p>
{chart}
<table><tr><th>id</th><th>config</th><th>n</th><th>rung</th><th>accuracy [95% CI]</th><th>stability</th>
<th>p95 ms</th><th>{html.escape(outcome.cost_unit)}</th><th></th></tr>
{rows}
</table></body></html>
""")
    return path
