"""Drift between a reference and a current window on the per-record features (our text
descriptors plus latency and scores), by Evidently's own per-column tests.

Two entry points, one test each column: `stattest_drift` calls the statistical test that
Evidently's DataDriftPreset picks for the column (`get_stattest`: K-S for numbers, chi-square
or a Z-test for flags, threshold 0.05) on the column with NaN/inf dropped, exactly as the
preset does, and skips the Report (its rendering costs ~2 s of CPU per window); it decides
every window. `compute_drift` runs the full Report and writes its HTML page; it runs when an
alarm fires, for the evidence. tests/integration/monitor/test_drift_evidently.py checks that
both reach the same columns and scores."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations.stattests.registry import get_stattest
from evidently.legacy.core import ColumnType
from evidently.presets import DataDriftPreset

from services.monitor.domain.drift import DriftResult
from services.monitor.domain.features import FEATURES, Record

CATEGORICAL = ("refusal", "json_valid", "error")
MIN_VALUES = 5  # a column with fewer non-null values on either side is left out


def frame(records: Sequence[Record]) -> pd.DataFrame:
    return pd.DataFrame([[r.features.get(c, float("nan")) for c in FEATURES] for r in records], columns=FEATURES)


def usable_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    return [c for c in FEATURES if reference[c].count() >= MIN_VALUES and current[c].count() >= MIN_VALUES]


def definition(columns: Sequence[str]) -> DataDefinition:
    return DataDefinition(numerical_columns=[c for c in columns if c not in CATEGORICAL],
                          categorical_columns=[c for c in columns if c in CATEGORICAL])


def run_report(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str]):  # noqa: ANN201
    dd = definition(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report([DataDriftPreset(columns=list(columns))]).run(
            current_data=Dataset.from_pandas(current[list(columns)], data_definition=dd),
            reference_data=Dataset.from_pandas(reference[list(columns)], data_definition=dd))


def _drifted(metric: dict) -> bool:  # type: ignore[type-arg]
    cfg = metric["config"]
    is_p_value = "p_value" in str(cfg.get("method", ""))
    return bool(metric["value"] < cfg["threshold"]) if is_p_value else bool(metric["value"] >= cfg["threshold"])


def parse(snapshot_dict: dict) -> tuple[float, dict[str, float], tuple[str, ...]]:  # type: ignore[type-arg]
    share, scores, drifted = 0.0, {}, []
    for metric in snapshot_dict["metrics"]:
        kind = metric["config"].get("type", "")
        if kind.endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif kind.endswith("ValueDrift"):
            column = metric["config"]["column"]
            scores[column] = float(metric["value"])
            drifted += [column] if _drifted(metric) else []
    return share, scores, tuple(drifted)


def compute_drift(reference: Sequence[Record], current: Sequence[Record], html_path: Path | None = None) -> DriftResult:
    ref, cur = frame(reference), frame(current)
    columns = usable_columns(ref, cur)
    if not columns:
        return DriftResult(0.0, (), {})
    snapshot = run_report(ref, cur, columns)
    share, scores, drifted = parse(snapshot.dict())
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    return DriftResult(share, drifted, scores, str(html_path) if html_path else None)


def _finite(column: pd.Series) -> pd.Series:
    return column.replace([float("inf"), float("-inf")], float("nan")).dropna()


def stattest_drift(reference: Sequence[Record], current: Sequence[Record],
                   html_path: Path | None = None) -> DriftResult:
    """Per usable column, Evidently's default test; the share of columns that drifted. No
    HTML (`compute_drift` writes it); `html_path` is accepted so both fit `DriftFn`."""
    ref, cur = frame(reference), frame(current)
    columns = usable_columns(ref, cur)
    scores, drifted = {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for column in columns:
            kind = ColumnType.Categorical if column in CATEGORICAL else ColumnType.Numerical
            r, c = _finite(ref[column]), _finite(cur[column])
            result = get_stattest(r, c, kind, None)(r, c, kind, None)
            scores[column] = float(result.drift_score)
            drifted += [column] if result.drifted else []
    return DriftResult(len(drifted) / len(columns) if columns else 0.0, tuple(drifted), scores)
