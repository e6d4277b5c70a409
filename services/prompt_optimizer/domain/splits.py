"""Train / validation / held-out test splits, fixed by a seed so a run can be reproduced and
audited: the item ids of every split are recorded in the result."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.task import DatasetItem

FRACTIONS = (0.25, 0.25, 0.5)  # train, validation, test: the held-out proof gets the most items


class SplitError(ValueError):
    pass


@dataclass(frozen=True)
class Splits:
    seed: int
    train: tuple[DatasetItem, ...]
    validation: tuple[DatasetItem, ...]
    test: tuple[DatasetItem, ...]

    def record(self) -> dict[str, list[str]]:
        return {"train": [i.id for i in self.train],
                "validation": [i.id for i in self.validation], "test": [i.id for i in self.test]}


def split_items(items: Sequence[DatasetItem], seed: int, fractions: tuple[float, float, float] = FRACTIONS) -> Splits:
    """Shuffle by `seed` (after sorting by id, so input order does not matter) and cut."""
    if len(items) < 6:
        raise SplitError(f"need at least 6 items to split into train/validation/test, got {len(items)}")
    ordered = sorted(items, key=lambda i: i.id)
    random.Random(seed).shuffle(ordered)
    n_train = max(1, round(len(ordered) * fractions[0]))
    n_val = max(2, round(len(ordered) * fractions[1]))
    return Splits(seed, tuple(ordered[:n_train]), tuple(ordered[n_train:n_train + n_val]),
                  tuple(ordered[n_train + n_val:]))
