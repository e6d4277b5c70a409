import pytest

from services.loadtester.domain.metrics import (
    Slo,
    achieved_rate,
    is_client_bound,
    itls,
    saturation_index,
    summarize,
    tpot,
    ttft,
)
from services.loadtester.domain.records import RequestRecord
from services.loadtester.domain.tokens import from_cumulative, split_tokens


def rec(sent=0.0, chunks=(), tokens=(), end=None, error=None, warmup=False, out=None) -> RequestRecord:
    r = RequestRecord(scheduled=sent, sent=sent, chunk_times=list(chunks), chunk_tokens=list(tokens),
                      error=error, warmup=warmup, input_tokens=10)
    r.end = end if end is not None else (chunks[-1] if chunks else sent)
    r.output_tokens = out if out is not None else sum(tokens)
    return r


def test_ttft_is_send_to_first_content_chunk():
    assert ttft(rec(1.0, [1.1, 1.2], [1, 1])) == pytest.approx(0.1)


def test_multi_token_chunk_counts_as_that_many_gaps():
    r = rec(0.0, [0.1, 0.13, 0.14], [1, 3, 1])
    assert itls(r) == pytest.approx([0.01, 0.01, 0.01, 0.01])


def test_first_chunk_tokens_add_no_gaps():
    assert itls(rec(0.0, [0.1, 0.12], [4, 2])) == pytest.approx([0.01, 0.01])


def test_tpot_spreads_decode_time_over_tokens_after_the_first():
    assert tpot(rec(0.0, [0.1, 0.2], [1, 4], end=0.2)) == pytest.approx(0.1 / 4)
    assert tpot(rec(0.0, [0.1], [1])) is None


def test_summary_counts_errors_by_type_and_drops_warmup():
    records = [rec(0.0, [0.1, 0.2], [1, 1]), rec(0.1, [0.3, 0.35], [1, 1]),
               rec(0.2, error="http_500"), rec(0.3, error="connect"), rec(0.3, error="http_500"),
               rec(0.0, [5.0], [1], warmup=True)]
    s = summarize(1, records, Slo())
    assert s.requests == 5
    assert s.errors_by_type == {"http_500": 2, "connect": 1}
    assert s.ttft_ms["p50"] == pytest.approx(150.0)
    assert s.duration_s == pytest.approx(0.35)


def test_goodput_counts_only_requests_within_every_slo():
    fast = rec(0.0, [0.05, 0.06], [1, 1])
    slow_first = rec(0.0, [0.5, 0.51], [1, 1])
    slow_decode = rec(0.0, [0.05, 0.5], [1, 1])
    s = summarize(1, [fast, slow_first, slow_decode], Slo(ttft_ms=100, tpot_ms=50))
    assert s.goodput_rps * s.duration_s == pytest.approx(1)
    s_all = summarize(1, [fast, slow_first, slow_decode], Slo())
    assert s_all.goodput_rps * s_all.duration_s == pytest.approx(3)


def test_achieved_rate_is_sends_over_their_span():
    assert achieved_rate([0.0, 0.1, 0.2, 0.3]) == pytest.approx(10.0)
    assert achieved_rate([1.0]) is None


def _level(level, tok_s, e2e_p50):
    s = summarize(level, [rec(0.0, [0.1, 0.2], [1, 1])], Slo())
    s.output_tokens_per_s = tok_s
    s.e2e_ms = {"p50": e2e_p50}
    return s


def test_saturation_when_throughput_flattens_while_latency_climbs():
    levels = [_level(1, 100, 200), _level(2, 190, 210), _level(4, 195, 400), _level(8, 196, 800)]
    assert saturation_index(levels) == 2
    assert saturation_index(levels[:2]) is None


def test_latency_climb_alone_is_not_saturation():
    assert saturation_index([_level(1, 100, 200), _level(2, 200, 400)]) is None


def test_client_bound_flags_cpu_or_loop_lag():
    assert is_client_bound({"cpu_share": 0.95})
    assert is_client_bound({"cpu_share": 0.1, "loop_lag_p50_ms": 3.0})
    assert not is_client_bound({"cpu_share": 0.3, "loop_lag_p50_ms": 0.2})


def test_tokens_from_usage_spread_by_chunk_length():
    assert split_tokens([3, 3, 3], 3) == [1, 1, 1]
    assert split_tokens([6, 6, 3], 5) == [2, 2, 1]
    assert sum(split_tokens([5, 1, 7, 2], 11)) == 11
    assert split_tokens([4, 4], None) == [1, 1]


def test_tokens_from_cumulative_counts():
    assert from_cumulative([2, 4, 5]) == [2, 2, 1]


def test_auto_workers_follow_the_open_loop_rate(monkeypatch):
    from services.loadtester.adapters import sweep as runner

    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert runner.workers_for(3, "poisson", 1000) == 3  # asked for
    assert runner.workers_for(0, "concurrency", 1000) == 1  # closed loop: start on one
    assert runner.workers_for(0, "constant", 100) == 1
    assert runner.workers_for(0, "constant", 500) == 2
    assert runner.workers_for(0, "poisson", 10_000) == 8  # capped at the cores
