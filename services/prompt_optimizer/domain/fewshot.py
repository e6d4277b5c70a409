"""Few-shot demonstration sampling from the train split: label-balanced, seeded."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from schemas.task import DatasetItem
from services.prompt_optimizer.domain.variants import Demo, answer_text, item_text


def sample_demos(train: Sequence[DatasetItem], shots: int, rng: random.Random) -> tuple[Demo, ...]:
    """Up to `shots` demos, round-robin over answers so no label dominates, in shuffled order."""
    by_answer: dict[str, list[DatasetItem]] = defaultdict(list)
    for item in train:
        by_answer[answer_text(item)].append(item)
    pools = [rng.sample(group, len(group)) for _, group in sorted(by_answer.items())]
    rng.shuffle(pools)
    chosen: list[DatasetItem] = []
    while len(chosen) < shots and any(pools):
        for pool in pools:
            if pool and len(chosen) < shots:
                chosen.append(pool.pop())
    rng.shuffle(chosen)
    return tuple(Demo(item_text(i), answer_text(i)) for i in chosen)
