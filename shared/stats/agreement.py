"""Agreement across k repeated answers per item (stability). Pure: no I/O.

Input shape everywhere: one sequence per item, holding that item's k answers (labels or
normalized strings) or k scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np


def item_agreement(answers: Sequence[Hashable]) -> float:
    """Share of ordered pairs of repeats that give the same answer (1.0 = all identical)."""
    k = len(answers)
    if k < 2:
        return 1.0
    counts = Counter(answers).values()
    return sum(c * (c - 1) for c in counts) / (k * (k - 1))


def mean_agreement(per_item: Sequence[Sequence[Hashable]]) -> float:
    return float(np.mean([item_agreement(a) for a in per_item])) if per_item else 1.0


def exact_match_consistency(per_item: Sequence[Sequence[Hashable]]) -> float:
    """Share of items whose k answers are all identical."""
    if not per_item:
        return 1.0
    return float(np.mean([len(set(a)) <= 1 for a in per_item]))


def fleiss_kappa(per_item: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa with the k repeats as raters; None when undefined (one category only,
    or fewer than 2 repeats). All items must have the same number of repeats."""
    if not per_item:
        return None
    k = len(per_item[0])
    if k < 2 or any(len(a) != k for a in per_item):
        return None
    categories = sorted({str(x) for a in per_item for x in a})
    index = {c: j for j, c in enumerate(categories)}
    table = np.zeros((len(per_item), len(categories)))
    for i, answers in enumerate(per_item):
        for x in answers:
            table[i, index[str(x)]] += 1
    return fleiss_kappa_table(table)


def fleiss_kappa_table(table: np.ndarray) -> float | None:
    """Fleiss' kappa from an items x categories count table (each row sums to k raters)."""
    n_items = table.shape[0]
    k = table[0].sum()
    p_j = table.sum(axis=0) / (n_items * k)
    p_i = (np.square(table).sum(axis=1) - k) / (k * (k - 1))
    p_bar, p_e = p_i.mean(), np.square(p_j).sum()
    if np.isclose(p_e, 1.0):
        return None
    return float((p_bar - p_e) / (1 - p_e))


def accuracy_spread(scores_by_repeat: Sequence[Sequence[float]]) -> float:
    """max - min of mean accuracy across repeats (input: one sequence of item scores per repeat)."""
    if not scores_by_repeat:
        return 0.0
    means = [float(np.mean(r)) for r in scores_by_repeat if len(r)]
    return max(means) - min(means) if means else 0.0


def flipping_items(ids: Sequence[str], per_item: Sequence[Sequence[Hashable]]) -> list[str]:
    """Ids of items whose answer is not the same in every repeat."""
    return [i for i, a in zip(ids, per_item, strict=True) if len(set(a)) > 1]
