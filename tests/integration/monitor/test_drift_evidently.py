"""Evidently drift on the monitor's features: a shifted window drifts, a control window of
the same distribution does not, and the HTML report is written. The per-column path that
decides every window reaches what Evidently's Report says on the same data."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.monitor.adapters.drift import compute_drift, stattest_drift
from services.monitor.domain.features import record_of
from tests.unit.monitor.synthetic import stream


def records(n: int, shift_at: int | None, seed: int) -> list:  # type: ignore[type-arg]
    return [record_of(e.data, e.time.timestamp()) for e in stream(n, shift_at=shift_at, seed=seed)]


def test_shift_drifts_and_control_does_not(tmp_path: Path) -> None:
    reference = records(100, None, seed=1)
    control = compute_drift(reference, records(40, None, seed=2))
    shifted = compute_drift(reference, records(40, 0, seed=3), tmp_path / "w.html")
    assert control.share < 0.5, control
    assert shifted.share > 0.5 and {"prompt_chars", "latency_ms", "refusal"} <= set(shifted.drifted)
    assert Path(shifted.report_path or "").stat().st_size > 10_000


@pytest.mark.parametrize("shift_at", [None, 0, 20])
def test_the_per_column_tests_decide_what_the_report_decides(shift_at: int | None) -> None:
    reference, current = records(200, None, seed=1), records(40, shift_at, seed=4)
    fast, report = stattest_drift(reference, current), compute_drift(reference, current)
    assert fast.drifted == report.drifted and fast.share == report.share
    assert fast.scores == pytest.approx(report.scores)
