"""Slow, erroring and connection-dropping model endpoints: the evaluator and the load tester
apply their timeouts and retries as docs/evaluator.md and docs/loadtester.md say, and record
the failure (an `evaluation.failed` reason, an error type per request) instead of hanging or
crashing.

- evaluator: each call is retried twice with backoff on 429/5xx and transport errors, then
  scored 0 with its error; more than half of one side failing fails the evaluation with the
  first error as the reason; a call that outlives the timeout is a `timeout` error.
- load tester: no retries (a retry would hide what users see): each failed request is
  counted by type (`http_500`, `stream_broken`, `timeout`, `connect`), the rest measured.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationRequested
from schemas.events.loadtests import LoadtestRequested, Slo
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.checks import EvaluationFailure
from services.evaluator.handlers.evaluation import evaluate
from services.loadtester.adapters.generator import LevelPlan, run_level
from services.loadtester.domain.metrics import Slo as LevelSlo
from services.loadtester.domain.metrics import summarize
from services.loadtester.domain.profiles import LengthProfile
from services.loadtester.handlers import run_loadtest
from tests.support.scripted_llm import start_scripted_llm

ITEMS = {"d": [DatasetItem(id=f"i{i}", input=f"question {i}", expected="w0") for i in range(6)]}
TASK = TaskSpec(name="t", metric="contains")
RETRIES = 2  # PooledEngine's default: three attempts per call


def _spec(url: str) -> CandidateSpec:
    return CandidateSpec(name="s", model="scripted", task="t", engine="openai", endpoint=url)


def _eval_request(url: str, concurrency: int) -> EvaluationRequested:
    return EvaluationRequested(evaluation_id="e", candidate_id="c", task="t", candidate=_spec(url),
                               task_spec=TASK, kinds=["accuracy"], concurrency=concurrency)


async def _evaluate(url: str, home: Path, timeout_s: float = 10.0, concurrency: int = 2):  # type: ignore[no-untyped-def]
    req = _eval_request(url, concurrency)
    engines = engines_for(req, timeout_s=timeout_s)
    try:
        return await evaluate(req, ITEMS, [], engines=engines, store=EvaluationStore(home, "e"), n_boot=100)
    finally:
        await engines.aclose()


@pytest.fixture
def dropping_server() -> Iterator[str]:
    """Accepts every connection and closes it at once, before any answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join(5)
    listener.close()


# ---- evaluator ------------------------------------------------------------------------

async def test_evaluator_retries_5xx_and_scores_every_item(tmp_path: Path) -> None:
    # one call at a time: the server's seeded errors then fall on the same attempts every run
    with start_scripted_llm(latency_ms=5, output_tokens=1, error_rate=0.3, seed=3) as server:
        done = await _evaluate(server.url, tmp_path, concurrency=1)
        requests = server.stats()["requests"]

    assert done.accuracy[0].n == 6 and done.accuracy[0].candidate_score == 1.0
    assert not done.accuracy[0].items_failed
    assert requests > 6  # the 500s were retried, not scored as failures


async def test_evaluator_endpoint_that_always_fails_fails_the_evaluation_after_its_retries(tmp_path: Path) -> None:
    with start_scripted_llm(latency_ms=5, error_rate=1.0, error_status=503) as server:
        with pytest.raises(EvaluationFailure, match="candidate endpoint .*503"):
            await _evaluate(server.url, tmp_path)
        requests = server.stats()["requests"]

    # /health answered, so no probe call: every planned call was tried 1 + RETRIES times
    assert requests == 6 * (1 + RETRIES)


async def test_evaluator_slow_endpoint_times_out_and_fails_with_the_reason(tmp_path: Path) -> None:
    with start_scripted_llm(latency_ms=5_000, output_tokens=1) as server, \
            pytest.raises(EvaluationFailure, match="timed out"):
        await _evaluate(server.url, tmp_path, timeout_s=0.3)


async def test_evaluator_connection_dropped_is_a_recorded_failure(tmp_path: Path, dropping_server: str) -> None:
    with pytest.raises(EvaluationFailure, match="unreachable"):
        await _evaluate(dropping_server, tmp_path)


# ---- load tester ----------------------------------------------------------------------

def _level(url: str, timeout_s: float = 10.0, requests: int = 6):  # type: ignore[no-untyped-def]
    plan = LevelPlan(url=url, model="scripted", level=2, requests=requests, lengths=LengthProfile("fixed", 4, 4),
                     timeout_s=timeout_s)
    records, client = asyncio.run(run_level(plan))
    return summarize(2, records, LevelSlo(), None, client)


def test_loadtester_slow_endpoint_requests_time_out_and_are_counted() -> None:
    with start_scripted_llm(ttft_ms=5_000, itl_ms=1) as server:
        summary = _level(server.url, timeout_s=0.3)

    assert summary.errors_by_type == {"timeout": 6}


def test_loadtester_does_not_retry_errors_it_counts_them(dropping_server: str) -> None:
    with start_scripted_llm(ttft_ms=5, itl_ms=1, error_rate=1.0, error_status=500) as server:
        summary = _level(server.url)
        requests = server.stats()["requests"]

    assert summary.errors_by_type == {"http_500": 6} and requests == 6
    assert set(_level(dropping_server).errors_by_type) <= {"stream_broken", "connect"}


async def test_loadtester_service_records_a_dropping_endpoint_in_the_completed_result(tmp_path: Path) -> None:
    with start_scripted_llm(ttft_ms=5, itl_ms=1, midstream_error_rate=1.0, midstream_mode="abort") as server:
        req = LoadtestRequested(loadtest_id="lt", candidate_id="c", candidate=_spec(server.url), levels=[1],
                                requests_per_level=4, input_tokens=4, output_tokens=6, slo=Slo(e2e_ms=1000))
        done = await run_loadtest(req, tmp_path / "lt")

    [level] = done.levels
    assert level.errors == level.requests == 4 and level.errors_by_type == {"stream_broken": 4}
