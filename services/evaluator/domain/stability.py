"""Stability of the candidate over k repeats per item. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.events.evaluations import StabilitySummary
from services.evaluator.domain.plan import repeat_seeds, seeding_note
from services.evaluator.domain.results import ItemResult
from shared.scoring.metrics import answer_key
from shared.stats.agreement import (
    accuracy_spread,
    exact_match_consistency,
    fleiss_kappa,
    flipping_items,
    mean_agreement,
)

LABEL_METRICS = frozenset({"choice"})


def stability_summary(metric: str, args: Mapping[str, Any], repeats: Sequence[ItemResult],
                      k: int, seed: int | None) -> StabilitySummary:
    """`seed` is the candidate's own: the repeats ran with `repeat_seeds(seed, k)`."""
    answers: dict[str, dict[int, str]] = defaultdict(dict)
    scores: dict[int, list[float]] = defaultdict(list)
    for r in repeats:
        answers[f"{r.dataset}/{r.item_id}"][r.repeat] = answer_key(metric, r.output, args)
        scores[r.repeat].append(r.score if r.score is not None else 0.0)
    ids = sorted(answers)
    per_item = [[answers[i][j] for j in sorted(answers[i])] for i in ids]
    kappa = fleiss_kappa(per_item) if metric in LABEL_METRICS else None
    return StabilitySummary(
        repeats=k, mean_agreement=mean_agreement(per_item), exact_match_consistency=exact_match_consistency(per_item),
        fleiss_kappa=kappa, accuracy_spread=accuracy_spread([scores[j] for j in sorted(scores)]),
        flipping_items=flipping_items(ids, per_item), seeds=repeat_seeds(seed, k), seeding=seeding_note(seed, k))
