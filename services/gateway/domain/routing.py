"""Routing decisions: which target answers, in which order to fall back, who is mirrored.

Pure: a `CompiledRoute` is an immutable view of one `RouteTable`, built once per update,
so a request reads one consistent table even while an update swaps in the next one.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from schemas.events.deployments import RouteTable, RouteTarget


@dataclass(frozen=True)
class CompiledRoute:
    table: RouteTable
    revision: int
    cumulative: tuple[float, ...]

    @property
    def name(self) -> str:
        return self.table.route

    @property
    def total_weight(self) -> float:
        return self.cumulative[-1] if self.cumulative else 0.0


def compile_route(table: RouteTable, revision: int) -> CompiledRoute:
    if not table.targets:
        raise ValueError(f"route {table.route!r} has no targets")
    return CompiledRoute(table, revision, tuple(accumulate(t.weight for t in table.targets)))


def sticky_point(route: str, key: str) -> float:
    """A stable point in [0, 1) for one user of one route."""
    digest = hashlib.blake2b(f"{route}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick_target(route: CompiledRoute, sticky_value: str | None = None,
                rng: random.Random | None = None) -> RouteTarget:
    """Weighted choice; with a sticky value the same user lands on the same target while
    weights stay put (and moves as little as possible when they change)."""
    total = route.total_weight
    targets = route.table.targets
    if total <= 0:
        return targets[0]
    point = sticky_point(route.name, sticky_value) if sticky_value else (rng or random).random()
    index = bisect_right(route.cumulative, point * total)
    return targets[min(index, len(targets) - 1)]


def attempt_order(route: CompiledRoute, chosen: RouteTarget) -> list[RouteTarget]:
    """The chosen target, then the declared fallbacks, then the other targets by weight."""
    order = [chosen]
    others = sorted(route.table.targets, key=lambda t: -t.weight)
    for target in [*route.table.fallbacks, *others]:
        if all(target.candidate_id != seen.candidate_id or target.url != seen.url for seen in order):
            order.append(target)
    return order
