"""The configuration search's frontier as an inline SVG scatter: accuracy (95% CI as error bars)
against cost, p95 latency as colour, frontier points ringed, the recommendation starred.

Pure (the completed event's variants in, markup out): the optimizer's HTML report and the
registry's dashboard both draw it with this one function. Text and axes use `currentColor`, so
it reads on a light report and on the dark dashboard alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from schemas.events.prompts import ConfigVariantResult

W, H = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 130, 34, 48
# viridis at 0, .25, .5, .75, 1: dark = fast, yellow = slow
RAMP = ((0x44, 0x01, 0x54), (0x3B, 0x52, 0x8B), (0x21, 0x91, 0x8C), (0x5E, 0xC9, 0x62), (0xFD, 0xE7, 0x25))
FRONTIER, RECOMMENDED = "#3fb950", "#f85149"


def colour(t: float) -> str:
    """The ramp at t in [0, 1], as #rrggbb."""
    t = min(1.0, max(0.0, t)) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    f = t - i
    rgb = (round(a + (b - a) * f) for a, b in zip(RAMP[i], RAMP[i + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 if hi > lo else max(abs(lo) * 0.1, 0.5)
    return max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _num(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _star(cx: float, cy: float, r: float) -> str:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.45
        a = -math.pi / 2 + k * math.pi / 5
        pts.append(f"{cx + rad * math.cos(a):.1f},{cy + rad * math.sin(a):.1f}")
    return " ".join(pts)


def frontier_svg(points: Sequence[ConfigVariantResult], *, cost_unit: str, title: str = "", element_id: str = "frontier"
                 ) -> str:
    """The scatter as one `<svg>` element (no XML prolog): embed it in HTML as it is."""
    sid = escape(element_id, quote=True)
    if not points:
        return (f'<svg id="{sid}" class="frontier-scatter" width="{W}" height="40" role="img" '
                f'aria-label="no evaluated variants"><text x="4" y="24" fill="currentColor">no evaluated variants'
                f'</text></svg>')
    x0, x1 = _span([p.cost for p in points])
    lat = [p.p95_ms for p in points if math.isfinite(p.p95_ms)] or [0.0]
    l0, l1 = min(lat), max(lat)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def X(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return TOP + (1.0 - min(1.05, max(-0.05, v))) / 1.1 * ph + ph * 0.05 / 1.1

    def C(ms: float) -> str:
        return colour((ms - l0) / (l1 - l0) if l1 > l0 and math.isfinite(ms) else 0.5)

    out = [f'<svg id="{sid}" class="frontier-scatter" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" role="img" aria-label="accuracy against {escape(cost_unit)}, p95 latency as '
           f'colour, frontier ringed, recommendation starred" font-family="sans-serif" font-size="11">']
    if title:
        out.append(f'<text x="{LEFT}" y="16" fill="currentColor" font-size="13">{escape(title)}</text>')
    axis = 'stroke="#8b98a5" stroke-width="1"'
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" {axis}/>'
               f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" {axis}/>')
    for v in _ticks(0.0, 1.0):
        out.append(f'<line x1="{LEFT - 4}" y1="{Y(v):.1f}" x2="{LEFT}" y2="{Y(v):.1f}" {axis}/>'
                   f'<text x="{LEFT - 7}" y="{Y(v) + 4:.1f}" text-anchor="end" fill="currentColor">{v:.2f}</text>')
    for v in _ticks(x0, x1):
        out.append(f'<line x1="{X(v):.1f}" y1="{TOP + ph}" x2="{X(v):.1f}" y2="{TOP + ph + 4}" {axis}/>'
                   f'<text x="{X(v):.1f}" y="{TOP + ph + 16}" text-anchor="middle" fill="currentColor">'
                   f'{_num(v)}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 8}" text-anchor="middle" fill="currentColor">'
               f'{escape(cost_unit)}</text>'
               f'<text transform="translate(14 {TOP + ph / 2}) rotate(-90)" text-anchor="middle" fill="currentColor">'
               f'accuracy (95% CI)</text>')
    for p in points:  # CI bars under the dots
        x = X(p.cost)
        out.append(f'<line class="ci" x1="{x:.1f}" y1="{Y(p.ci_low):.1f}" x2="{x:.1f}" y2="{Y(p.ci_high):.1f}" '
                   f'stroke="#8b98a5" stroke-width="1.5"/>')
    for p in sorted(points, key=lambda q: (q.recommended, q.frontier)):
        x, y = X(p.cost), Y(p.accuracy)
        tip = (f"{p.variant} {p.label}: accuracy {p.accuracy:.3f} [{p.ci_low:.3f}, {p.ci_high:.3f}], "
               f"p95 {p.p95_ms:.0f} ms, {_num(p.cost)} {cost_unit}")
        classes = " ".join(c for c, on in (("variant", True), ("finalist", p.finalist), ("on-frontier", p.frontier),
                                           ("is-recommended", p.recommended)) if on)
        out.append(f'<circle class="{classes}" data-variant="{escape(p.variant, quote=True)}" cx="{x:.1f}" '
                   f'cy="{y:.1f}" r="{6 if p.finalist else 4}" fill="{C(p.p95_ms)}"><title>{escape(tip)}</title>'
                   f'</circle>')
        if p.frontier:
            out.append(f'<circle class="frontier-mark" cx="{x:.1f}" cy="{y:.1f}" r="11" fill="none" '
                       f'stroke="{FRONTIER}" stroke-width="2"/>')
        if p.recommended:
            out.append(f'<polygon class="recommended" points="{_star(x, y - 18, 8)}" fill="{RECOMMENDED}"/>')
        if p.finalist or p.recommended:  # the rest are named in their tooltips
            out.append(f'<text x="{x + 8:.1f}" y="{y - 6:.1f}" fill="currentColor" font-size="10">'
                       f'{escape(p.variant)}</text>')
    out.append(_legend(sid, l0, l1))
    out.append("</svg>")
    return "".join(out)


def _legend(sid: str, l0: float, l1: float) -> str:
    gx, gy, gh = W - RIGHT + 24, TOP + 18, 110
    stops = "".join(f'<stop offset="{i / (len(RAMP) - 1):.2f}" stop-color="{colour(1 - i / (len(RAMP) - 1))}"/>'
                    for i in range(len(RAMP)))
    return (f'<defs><linearGradient id="{sid}-ramp" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs>'
            f'<text x="{gx}" y="{gy - 8}" fill="currentColor">p95 ms</text>'
            f'<rect x="{gx}" y="{gy}" width="14" height="{gh}" fill="url(#{sid}-ramp)"/>'
            f'<text x="{gx + 18}" y="{gy + 9}" fill="currentColor">{_num(l1)}</text>'
            f'<text x="{gx + 18}" y="{gy + gh}" fill="currentColor">{_num(l0)}</text>'
            f'<circle cx="{gx + 7}" cy="{gy + gh + 26}" r="8" fill="none" stroke="{FRONTIER}" stroke-width="2"/>'
            f'<text x="{gx + 20}" y="{gy + gh + 30}" fill="currentColor">frontier</text>'
            f'<polygon points="{_star(gx + 7, gy + gh + 50, 7)}" fill="{RECOMMENDED}"/>'
            f'<text x="{gx + 20}" y="{gy + gh + 54}" fill="currentColor">recommended</text>')
