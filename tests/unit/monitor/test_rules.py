import json
import math

import pytest
from pydantic import ValidationError

from services.monitor.domain.rules import Breach, Hysteresis, HysteresisConfig, RuleConfig, evaluate
from services.monitor.domain.stats import WindowStats


def stats(**kw: float) -> WindowStats:
    base = dict(n=50, error_rate=0.0, refusal_rate=0.0, json_valid_rate=0.0, guardrail_rate=0.0,
                latency_p95_ms=300.0, ttft_p95_ms=math.nan, feedback_mean=math.nan, feedback_n=0,
                judge_mean=math.nan, judge_n=0)
    return WindowStats(**{**base, **kw})  # type: ignore[arg-type]


def rules(cur: WindowStats, ref: WindowStats | None = None, drift: float | None = None, **cfg: object) -> list[str]:
    return [b.rule for b in evaluate(cur, ref, drift, RuleConfig.model_validate(cfg))]


def test_each_rule_fires_on_its_own_signal() -> None:
    assert rules(stats(), drift=0.6) == ["drift_share"]
    assert rules(stats(error_rate=0.3)) == ["error_rate"]
    assert rules(stats(latency_p95_ms=900), latency_p95_ms=500) == ["latency_p95_ms"]
    assert rules(stats(refusal_rate=0.5), stats(refusal_rate=0.1)) == ["refusal_spike"]
    assert rules(stats(feedback_mean=-0.2, feedback_n=9), stats(feedback_mean=0.8, feedback_n=30)) == ["feedback_drop"]
    assert rules(stats(judge_mean=0.4, judge_n=5), stats(judge_mean=0.8, judge_n=5)) == ["judge_drop"]


def test_quiet_window_and_guards() -> None:
    assert rules(stats(), stats(), drift=0.2) == []
    assert rules(stats(n=5, error_rate=1.0)) == []  # too small to judge
    assert rules(stats(feedback_mean=-1, feedback_n=2), stats(feedback_mean=1, feedback_n=30)) == []  # too few scores
    assert rules(stats(error_rate=0.9), error_rate=None) == []  # rule switched off
    assert rules(stats(refusal_rate=0.3), stats(refusal_rate=0.2)) == []  # a rise below the threshold


ERRORS, DRIFT = Breach("error_rate", 0.5, 0.2), Breach("drift_share", 0.6, 0.5)


def fires(h: Hysteresis, breached: bool) -> bool:
    return h.step([ERRORS] if breached else []) is not None


def test_hysteresis_needs_k_of_m_then_cools_down() -> None:
    h = Hysteresis(HysteresisConfig(k=2, m=3, cooldown_windows=2))
    assert [fires(h, b) for b in (True, False, False, True)] == [False, False, False, False]  # never 2 in 3
    assert fires(h, True) is True  # the last three are F, T, T
    assert [fires(h, True) for _ in range(2)] == [False, False]  # cool-down
    assert fires(h, True) is True  # still degraded after the cool-down: fires again
    assert [fires(h, False), fires(h, False), fires(h, False), fires(h, True)] == [False, False, False, False]


def test_one_noisy_window_does_not_fire() -> None:
    h = Hysteresis(HysteresisConfig(k=2, m=3))
    assert not any(fires(h, b) for b in [False, True, False, False, True, False, False])


def test_the_evidence_of_an_alarm_survives_a_restore_with_the_counts() -> None:
    """An alarm quotes what its windows breached, also the windows counted before the state was
    stored and read back (a restart, a partition moved to another instance)."""
    cfg = HysteresisConfig(k=2, m=3)
    before = Hysteresis(cfg)
    assert before.step([DRIFT]) is None
    after = Hysteresis.restored(cfg, json.loads(json.dumps(before.state())))  # as the database keeps it
    assert after.step([ERRORS]) == [DRIFT, ERRORS]
    older = Hysteresis.restored(cfg, {"recent": [True], "quiet": 0})  # stored before the evidence was
    assert older.step([ERRORS]) == [ERRORS]


def test_hysteresis_k_above_m_is_rejected() -> None:
    with pytest.raises(ValidationError):
        HysteresisConfig(k=4, m=3)


def test_an_alarm_names_every_rule_breached_in_its_windows() -> None:
    from services.monitor.domain.rules import Breach, merge_breaches

    merged = merge_breaches([[Breach("drift_share", 0.6, 0.5)], [], [Breach("refusal_spike", 0.9, 0.25),
                                                                    Breach("drift_share", 0.7, 0.5)]])
    assert [(b.rule, b.value) for b in merged] == [("drift_share", 0.7), ("refusal_spike", 0.9)]
