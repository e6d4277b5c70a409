import pytest

from shared.scoring.judge import JudgeVerdict, judge_request, parse_verdict, summarize


@pytest.mark.parametrize(("text", "outcome"), [
    ("The answer matches the reference.\nVERDICT: PASS", "pass"),
    ("verdict: fail", "fail"),
    ("**Verdict:** **FAIL**", "fail"),
    ("Reasoning...\nVERDICT: PASS.\n", "pass"),
    ("VERDICT: PASS\nVERDICT: PASS", "pass"),
    ("VERDICT: PASS\nVERDICT: FAIL", "unparseable"),
    ("I think it passes.", "unparseable"),
    ("The verdict: pass because it is fine", "unparseable"),
    ("VERDICT: MAYBE", "unparseable"),
    ("", "unparseable"),
])
def test_parse_verdict_is_strict(text, outcome):
    assert parse_verdict(text).outcome == outcome


def test_summary_counts_unparseable_and_errors():
    verdicts = [JudgeVerdict("pass"), JudgeVerdict("fail"), JudgeVerdict("pass"),
                JudgeVerdict("unparseable"), JudgeVerdict("error")]
    s = summarize(verdicts)
    assert (s.n, s.passed, s.failed, s.unparseable, s.errors) == (5, 2, 1, 1, 1)
    assert s.pass_rate == pytest.approx(2 / 3)
    assert summarize([JudgeVerdict("unparseable")]).pass_rate is None
    assert JudgeVerdict("unparseable").score is None and JudgeVerdict("pass").score == 1.0


def test_judge_request_carries_rubric_and_reference():
    req = judge_request("Be factual.", "Capital of France?", "Paris", "Paris")
    content = req.messages[-1]["content"]
    assert "Be factual." in content and "REFERENCE ANSWER" in content and req.temperature == 0.0
