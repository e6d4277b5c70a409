"""The frontier scatter: one SVG for the report and the dashboard, every variant drawn with its
CI, coloured by p95 latency, the frontier ringed and the recommendation starred."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from schemas.candidate import CandidateSpec, Engine
from schemas.events.prompts import ConfigVariantResult
from shared.frontier_chart import RAMP, colour, frontier_svg

NS = {"s": "http://www.w3.org/2000/svg"}
SPEC = CandidateSpec(name="smol", model="smollm2", task="sentiment", engine=Engine.openai,
                     endpoint="http://127.0.0.1:8301")


def variant(vid: str, acc: float, cost: float, p95: float, **marks: bool) -> ConfigVariantResult:
    return ConfigVariantResult(variant=vid, label=f"config {vid} <&>", spec=SPEC, n=20, rung=1, accuracy=acc,
                               ci_low=max(0.0, acc - 0.1), ci_high=min(1.0, acc + 0.1), p95_ms=p95, cost=cost,
                               **marks)


VARIANTS = [variant("default", 0.6, 2.0, 400.0, finalist=True, frontier=True),
            variant("c1", 0.8, 1.5, 900.0, finalist=True, frontier=True, recommended=True),
            variant("c2", 0.3, 3.0, 100.0)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, so also valid inline in HTML


def test_every_variant_is_a_dot_with_its_ci_bar_and_tooltip() -> None:
    root = parse(frontier_svg(VARIANTS, cost_unit="$/1M tokens", title="t", element_id="frontier-x"))
    assert root.get("id") == "frontier-x"
    dots = root.findall(".//s:circle[@data-variant]", NS)
    assert [d.get("data-variant") for d in dots] == ["c2", "default", "c1"]  # marked ones drawn on top
    assert len(root.findall(".//s:line[@class='ci']", NS)) == 3
    tips = [d.find("s:title", NS).text for d in dots]  # type: ignore[union-attr]
    assert "config c1 <&>: accuracy 0.800 [0.700, 0.900], p95 900 ms, 1.5 $/1M tokens" in tips[2]


def test_frontier_ringed_recommendation_starred_and_latency_coloured() -> None:
    root = parse(frontier_svg(VARIANTS, cost_unit="$/1M tokens"))
    assert len(root.findall(".//s:circle[@class='frontier-mark']", NS)) == 2
    assert len(root.findall(".//s:polygon[@class='recommended']", NS)) == 1
    fill = {d.get("data-variant"): d.get("fill") for d in root.findall(".//s:circle[@data-variant]", NS)}
    assert fill["c2"] == colour(0.0) and fill["c1"] == colour(1.0)  # fastest dark, slowest yellow
    assert "$/1M tokens" in "".join(root.itertext())


def test_points_land_where_their_values_say() -> None:
    root = parse(frontier_svg(VARIANTS, cost_unit="$"))
    at = {d.get("data-variant"): (float(d.get("cx", 0)), float(d.get("cy", 0)))
          for d in root.findall(".//s:circle[@data-variant]", NS)}
    assert at["c1"][0] < at["default"][0] < at["c2"][0]  # cheaper is further left
    assert at["c1"][1] < at["default"][1] < at["c2"][1]  # more accurate is higher


def test_colour_ramp_ends_and_clamps() -> None:
    assert colour(0.0) == "#{:02x}{:02x}{:02x}".format(*RAMP[0])
    assert colour(1.0) == "#{:02x}{:02x}{:02x}".format(*RAMP[-1])
    assert colour(-3) == colour(0.0) and colour(7) == colour(1.0)


def test_one_point_and_no_points_still_draw() -> None:
    one = parse(frontier_svg(VARIANTS[:1], cost_unit="tokens per call"))
    assert len(one.findall(".//s:circle[@data-variant]", NS)) == 1
    assert "no evaluated variants" in "".join(parse(frontier_svg([], cost_unit="$")).itertext())
