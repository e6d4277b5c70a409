"""The drift test's samples: a fixed size whatever the window holds, uniform, and the same
sample for the same window (a replay draws it again)."""

from __future__ import annotations

from collections import Counter

from services.monitor.domain.sampling import reservoir


def test_a_sample_never_exceeds_its_size_and_keeps_a_small_window_whole() -> None:
    assert reservoir(range(10), 50, "w") == list(range(10))
    assert len(reservoir(range(100_000), 50, "w")) == 50


def test_the_same_seed_draws_the_same_sample_and_another_seed_another() -> None:
    assert reservoir(range(1000), 20, "route/cand/w1") == reservoir(range(1000), 20, "route/cand/w1")
    assert reservoir(range(1000), 20, "route/cand/w1") != reservoir(range(1000), 20, "route/cand/w2")


def test_every_item_is_equally_likely_to_be_kept() -> None:
    kept = Counter(i for seed in range(2000) for i in reservoir(range(100), 10, str(seed)))
    # each of 100 items kept with probability 0.1: 200 times expected in 2000 draws (sd ~13)
    assert min(kept.values()) > 140 and max(kept.values()) < 260
