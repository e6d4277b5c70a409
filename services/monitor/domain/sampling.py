"""Fixed-size samples of a window, so the drift test's cost per window does not grow with
traffic. Pure and seeded: a replayed window draws the same sample."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def reservoir(items: Iterable[T], size: int, seed: str) -> list[T]:
    """A uniform sample of at most `size` of `items` in one pass (Algorithm R): every item is
    kept with probability size / n, whatever n turns out to be."""
    rng = random.Random(seed)
    kept: list[T] = []
    for seen, item in enumerate(items):
        if seen < size:
            kept.append(item)
        elif (slot := rng.randrange(seen + 1)) < size:
            kept[slot] = item
    return kept
