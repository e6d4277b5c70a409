"""Our figures against the scripted server's known schedule. The truth is what the
server actually did: its send times on the monotonic clock both processes share, so a
request's true TTFT is (server's first content send - our send). The server must keep
its configured schedule too; ours must be within 1 ms of the truth at p50, plus the
client's own measured wake-up lateness (event-loop lag p50) when the machine is crowded:
a client cannot see bytes before the OS runs it, and it reports that lateness."""

import asyncio

import numpy as np
import pytest

from services.loadtester.adapters.generator import LevelPlan, run_level
from services.loadtester.domain.metrics import Slo, summarize
from services.loadtester.domain.profiles import LengthProfile
from tests.support.scripted_llm import start_scripted_llm

CASES = {
    "chat-1tok-usage": dict(protocol="openai-chat", tokens_per_chunk=1, role_chunk=True, usage=True),
    "chat-3tok-usage": dict(protocol="openai-chat", tokens_per_chunk=3, role_chunk=True, usage=True),
    "chat-no-role-no-usage": dict(protocol="openai-chat", tokens_per_chunk=1, role_chunk=False, usage=False),
    "completions-2tok": dict(protocol="openai-completions", tokens_per_chunk=2, role_chunk=False, usage=True),
    "sglang-4tok": dict(protocol="sglang", tokens_per_chunk=4, role_chunk=False, usage=False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ttft_and_itl_match_the_schedule(case):
    cfg = dict(CASES[case])
    protocol = cfg.pop("protocol")
    with start_scripted_llm(ttft_ms=40, itl_ms=6, **cfg) as server:
        plan = LevelPlan(url=server.url, model="scripted", protocol=protocol, mode="concurrency", level=1,
                         requests=24, warmup=2, lengths=LengthProfile("fixed", 8, 12))
        records, client = asyncio.run(run_level(plan))
        truth = server.stats(log=True)
    s = summarize(1, records, Slo(), None, client)
    measured = [r for r in records if not r.warmup]
    true_ttft = [(first - r.sent) * 1000 for r, (_, first) in zip(measured, truth["log"][2:], strict=True)]
    assert s.errors == 0
    assert s.mean_output_tokens == 12
    # `sent` is the send syscall of the request's last bytes: never after the server's arrival stamp
    assert all(r.sent <= t0 + 0.001 for r, (t0, _) in zip(measured, truth["log"][2:], strict=True))
    first, gap = truth["first_send_ms"]["p50"], truth["gap_ms"]["p50"]
    # the fake keeps its schedule (loose: the machine is shared; the truth below is what it did)
    assert first == pytest.approx(40, abs=5.0)
    assert gap == pytest.approx(6, abs=2.0)
    slack = 1.0 + client["loop_lag_p50_ms"]
    assert s.ttft_ms["p50"] == pytest.approx(float(np.median(true_ttft)), abs=slack)
    assert s.itl_ms["p50"] == pytest.approx(gap, abs=slack)
    assert s.tpot_ms["p50"] == pytest.approx(6, abs=2.0)
