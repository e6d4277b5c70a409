"""The load tester sends what production sends: the candidate's pre-processing and the task's
template and system prompt around the synthetic input, sized so the server counts the target
number of prompt tokens; and it post-processes each streamed answer, timing that apart."""

import asyncio
import json

import pytest

from schemas.candidate import CandidateSpec, ProcessingStep
from schemas.events.loadtests import LoadtestRequested
from schemas.task import TaskSpec
from services.loadtester.domain.replies import POSTPROCESS_ERROR
from services.loadtester.handlers import run_loadtest
from tests.support.scripted_llm import start_scripted_llm

PRE = [ProcessingStep(op="template", args={"template": "Review: {input} Sentiment:"})]
POST = [ProcessingStep(op="strip"), ProcessingStep(op="label_map", args={"map": {"w1": "positive"}, "default": "no"})]
TASK = TaskSpec(name="sentiment", prompt_template="Classify the review. {input}", system_prompt="You label reviews.")
ADDED_WORDS = 3 + 3 + 2  # system prompt, task template, pre-processing template (the scripted server counts words)


def request(url: str, lid: str, post=POST, task=TASK, **kw) -> LoadtestRequested:
    cand = CandidateSpec(name="c", model=kw.pop("model", "scripted"), task="sentiment", engine="openai",
                         endpoint=url, preprocess=PRE, postprocess=post)
    return LoadtestRequested(loadtest_id=lid, candidate_id="c", candidate=cand, task_spec=task,
                             levels=kw.pop("levels", [2]),
                             requests_per_level=kw.pop("requests", 8), **kw)


def test_template_and_postprocessing_reach_the_server_and_the_figures(tmp_path):
    with start_scripted_llm(ttft_ms=20, itl_ms=2, role_chunk=True) as server:
        done = asyncio.run(run_loadtest(request(server.url, "lt-proc", input_tokens=40, output_tokens=6),
                                        tmp_path / "a"))
    level = done.levels[0]
    assert level.errors == 0, level.errors_by_type
    # the server counted the template's words: calibration measured them, and the sized input hit the target
    assert done.input_sizing.measured and done.input_sizing.overhead_tokens == pytest.approx(ADDED_WORDS)
    assert level.mean_input_tokens == level.target_input_tokens == 40
    # every streamed " w0 w1 ... w5" became the label, and the time that took is reported on its own
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert [s["output"] for s in results["samples"]] == ["positive"] * 5
    assert level.postprocess_ms is not None and level.postprocess_ms.p50 >= 0
    assert level.e2e_ms.p50 >= level.ttft_ms.p50
    assert results["levels"][0]["postprocess_ms"]["p50"] == pytest.approx(level.postprocess_ms.p50)


def test_a_step_that_cannot_apply_fails_each_request_with_its_reason(tmp_path):
    bad = [ProcessingStep(op="regex_extract", args={"pattern": "(unclosed"})]
    with start_scripted_llm(ttft_ms=5, itl_ms=1) as server:
        done = asyncio.run(run_loadtest(request(server.url, "lt-bad", post=bad, requests=4, output_tokens=3),
                                        tmp_path / "b"))
    level = done.levels[0]
    assert level.errors == level.requests == 4
    assert level.errors_by_type == {POSTPROCESS_ERROR: 4}
    assert "bad regex" in level.error_reasons[POSTPROCESS_ERROR]


@pytest.mark.models
@pytest.mark.timeout(300)
def test_real_tokenizer_and_chat_template_hit_the_input_target(smollm2_url, tmp_path):
    """llama.cpp counts the model's tokens and its chat template; calibration sizes for both."""
    post = [ProcessingStep(op="max_length", args={"max_chars": 3})]
    req = request(smollm2_url, "lt-smol", post=post, model="smollm2", levels=[1],  # llama.cpp serves one at a time
                  requests=3, input_tokens=64, output_tokens=4)
    done = asyncio.run(run_loadtest(req, tmp_path / "c"))
    level = done.levels[0]
    assert level.errors == 0, (level.errors_by_type, level.error_reasons)
    assert done.input_sizing.measured and done.input_sizing.overhead_tokens > ADDED_WORDS
    assert level.mean_input_tokens == pytest.approx(64, abs=3)
    results = json.loads((tmp_path / "c" / "results.json").read_text())
    assert all(len(s["output"]) <= 3 for s in results["samples"])


def test_a_server_without_token_counts_gets_an_estimated_sizing(tmp_path):
    with start_scripted_llm(ttft_ms=5, itl_ms=1, usage=False) as server:
        done = asyncio.run(run_loadtest(request(server.url, "lt-nousage", requests=4, input_tokens=40,
                                                output_tokens=3), tmp_path / "d"))
    level = done.levels[0]
    assert level.errors == 0, level.errors_by_type
    assert not done.input_sizing.measured and done.input_sizing.overhead_tokens > 0
    assert level.target_input_tokens == 40 and level.mean_input_tokens == pytest.approx(40, abs=1)  # our estimate
