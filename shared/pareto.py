"""Pareto sets over several objectives (score up, tokens/latency/cost down). Pure; used by the
prompt optimizer and the configuration search."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Objective(Generic[T]):
    name: str
    value: Callable[[T], float]
    maximize: bool = False

    def oriented(self, item: T) -> float:
        """The value on a 'higher is better' scale."""
        v = float(self.value(item))
        return v if self.maximize else -v


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """`a` is at least as good everywhere and strictly better somewhere (higher is better)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_front(items: Sequence[T], objectives: Sequence[Objective[T]]) -> list[T]:
    """The items no other item dominates, in input order. Ties (equal on every objective) all stay."""
    if not objectives:
        raise ValueError("give at least one objective")
    points = [tuple(o.oriented(item) for o in objectives) for item in items]
    return [item for item, p in zip(items, points, strict=True)
            if not any(dominates(q, p) for q in points)]
