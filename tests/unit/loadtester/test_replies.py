"""Post-processing a streamed reply: the answer changes, its time is E2E's and not TTFT's."""

import pytest

from schemas.candidate import CandidateSpec, ProcessingStep
from schemas.events.loadtests import LoadtestRequested
from schemas.task import TaskSpec
from services.loadtester.domain.metrics import Slo, summarize, tpot, ttft
from services.loadtester.domain.outcome import level_result, samples
from services.loadtester.domain.records import RequestRecord
from services.loadtester.domain.replies import POSTPROCESS_ERROR, finish_reply
from services.loadtester.handlers import sweep_plan

LABELS = ProcessingStep(op="label_map", args={"map": {"w1": "positive"}, "default": "unknown"})


def streamed(text: str = " w0 w1 w2", sent: float = 0.0) -> RequestRecord:
    r = RequestRecord(scheduled=sent, sent=sent, chunk_times=[sent + 0.1, sent + 0.2], chunk_tokens=[1, 2],
                      output_tokens=3, output=text, input_tokens=12, input_target=10)
    r.end = sent + 0.2
    return r


def clock(*ticks: float):
    it = iter(ticks)
    return lambda: next(it)


def test_postprocessing_changes_the_answer_and_is_timed():
    r = finish_reply(streamed(), [LABELS], clock(5.0, 5.004))
    assert r.output == "positive" and r.error is None
    assert r.post_s == pytest.approx(0.004)


def test_no_steps_leave_the_reply_and_time_alone():
    r = finish_reply(streamed(), [])
    assert r.output == " w0 w1 w2" and r.post_s is None


def test_a_failed_request_is_not_postprocessed():
    r = streamed()
    r.error = "stream_broken"
    assert finish_reply(r, [LABELS]).post_s is None


def test_a_step_that_cannot_apply_fails_the_request_with_the_reason():
    bad = ProcessingStep(op="regex_extract", args={"pattern": "("})
    r = finish_reply(streamed(), [bad])
    assert r.error == POSTPROCESS_ERROR and "bad regex" in r.error_reason and not r.ok


def test_postprocessing_time_is_in_e2e_not_in_ttft_or_tpot():
    plain, processed = streamed(), finish_reply(streamed(), [LABELS], clock(1.0, 1.05))
    assert ttft(processed) == ttft(plain) and tpot(processed) == tpot(plain)
    s = summarize(1, [processed], Slo())
    assert s.e2e_ms["p50"] == pytest.approx(250.0)
    assert s.postprocess_ms["p50"] == pytest.approx(50.0)
    assert summarize(1, [plain], Slo()).postprocess_ms is None


def test_the_summary_counts_postprocessing_failures_with_a_reason_and_prompt_tokens():
    bad = ProcessingStep(op="json_extract", args={"repair": True}), ProcessingStep(op="template")
    recs = [finish_reply(streamed(sent=i), list(bad)) for i in range(2)] + [streamed(sent=5)]
    s = summarize(1, recs, Slo())
    assert s.errors_by_type == {POSTPROCESS_ERROR: 2}
    assert "pre-processing step" in s.error_reasons[POSTPROCESS_ERROR]
    res = level_result(s)
    assert res.error_reasons == s.error_reasons
    assert (res.mean_input_tokens, res.target_input_tokens) == (12, 10)
    assert samples(recs)[0]["error"] == POSTPROCESS_ERROR


def test_the_plan_carries_the_candidates_steps_and_the_tasks_prompt():
    cand = CandidateSpec(name="c", model="m", task="t", engine="openai", endpoint="http://h:1",
                         preprocess=[ProcessingStep(op="truncate", args={"max_chars": 100})], postprocess=[LABELS])
    task = TaskSpec(name="t", prompt_template="Q: {input}\nA:", prompt_style="completion")
    req = LoadtestRequested(loadtest_id="l", candidate_id="c", candidate=cand, task_spec=task)
    plan = sweep_plan(req, cand)
    assert plan.base.shape.task == task and plan.base.shape.preprocess == tuple(cand.preprocess)
    assert plan.base.postprocess == (LABELS,)
    assert plan.base.protocol == "openai-completions"  # the API a completion prompt is sent to
    champion_task = TaskSpec(name="t", prompt_template="{input}")
    assert sweep_plan(req, cand, task=champion_task).base.shape.task == champion_task
    chat = sweep_plan(req.model_copy(update={"task_spec": None}), cand)
    assert chat.base.protocol == "openai-chat" and chat.base.shape.task is None
