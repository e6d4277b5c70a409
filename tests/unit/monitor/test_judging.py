from services.monitor.domain.features import Record
from services.monitor.domain.judging import judge_prompt, judge_sample, parse_score


def rec(i: int, status: str = "ok") -> Record:
    return Record(f"r{i}", "qa", "c", None, float(i), f"prompt {i}", f"answer {i}", status, {})


def test_budgeted_sample_is_deterministic_and_skips_errors() -> None:
    records = [rec(i, "error" if i % 3 == 0 else "ok") for i in range(30)]
    picked = judge_sample(records, 5)
    assert len(picked) == 5 and picked == judge_sample(list(reversed(records)), 5)
    assert all(r.status == "ok" for r in picked) and judge_sample(records, 0) == []


def test_judge_answer_parsing() -> None:
    assert parse_score("8") == 0.8 and parse_score("Score: 7.5/10") == 0.75
    assert parse_score("42") == 1.0 and parse_score("no idea") is None
    assert "prompt 1" in judge_prompt(rec(1)) and "answer 1" in judge_prompt(rec(1))
