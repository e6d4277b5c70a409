import math

from services.monitor.domain.features import Record, extract, is_json, is_refusal
from services.monitor.domain.stats import p95, window_stats


def feats(**kw: object) -> dict[str, float]:
    base = dict(prompt="What is 2+2?", response="4", status="ok", input_tokens=5, output_tokens=1,
                latency_ms=120.0, ttft_ms=None, guardrail_hits=0)
    return extract(**{**base, **kw})  # type: ignore[arg-type]


def test_lengths_tokens_latency() -> None:
    f = feats(prompt="one two  three", response="a b")
    assert (f["prompt_chars"], f["prompt_words"], f["response_words"]) == (14, 3, 2)
    assert (f["input_tokens"], f["output_tokens"], f["latency_ms"]) == (5, 1, 120.0)
    assert math.isnan(f["ttft_ms"]) and math.isnan(f["feedback"]) and math.isnan(f["judge"])


def test_refusal_json_error_guardrails() -> None:
    assert is_refusal("I\u2019m sorry, but I can't help with that.") and not is_refusal("Sure: 4")
    assert is_json('{"a": 1}') and not is_json("{a: 1}")
    f = feats(response='{"ok": true}', status="blocked", guardrail_hits=2)
    assert (f["json_valid"], f["error"], f["guardrail_hits"], f["refusal"]) == (1.0, 1.0, 2.0, 0.0)


def test_window_stats() -> None:
    recs = [Record(str(i), "qa", "c", None, float(i), "p", "r", "ok",
                   {**feats(latency_ms=float(i)), "feedback": (1.0 if i % 2 else math.nan)}) for i in range(1, 21)]
    s = window_stats(recs)
    assert s.n == 20 and s.latency_p95_ms == 19.0 and s.feedback_n == 10 and s.feedback_mean == 1.0
    assert s.error_rate == 0.0 and math.isnan(s.judge_mean) and math.isnan(p95([]))
