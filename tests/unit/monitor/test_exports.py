import json

import pytest

from services.monitor.domain.augment import Sample
from services.monitor.domain.exports import export_rows, regression_item, sample_of, sources

ROW = {"id": "s1", "prompt": "2+2?", "response": "5", "reason": "low_judge", "route": "math",
       "candidate_id": "c9", "prompt_version": "pv1", "captured_at": "2026-01-01T00:00:00Z", "chosen": "4",
       "severity": 3}


def test_sft_rows_are_chat_messages_with_the_preferred_answer() -> None:
    rows, skipped = export_rows([sample_of(ROW)], "sft")
    assert skipped == 0
    assert rows[0]["messages"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert rows[0]["metadata"]["candidate_id"] == "c9" and rows[0]["metadata"]["label"] == "negative"
    json.dumps(rows)


def test_dpo_rows_take_the_fallback_answer_as_chosen() -> None:
    rows, _ = export_rows([sample_of(ROW)], "dpo")
    assert {k: rows[0][k] for k in ("prompt", "chosen", "rejected")} == {"prompt": "2+2?", "chosen": "4",
                                                                          "rejected": "5"}
    assert rows[0]["metadata"]["route"] == "math" and rows[0]["metadata"]["sample_id"] == "s1"


def test_samples_without_a_better_answer_are_skipped() -> None:
    no_chosen = sample_of({**ROW, "chosen": None})
    same = sample_of({**ROW, "id": "s2", "chosen": "5"})
    assert export_rows([no_chosen, same], "dpo") == ([], 2)
    with pytest.raises(ValueError, match="unknown export format"):
        export_rows([], "kto")


def test_registry_rows_are_validated() -> None:
    with pytest.raises(ValueError, match="needs an id"):
        sample_of({"prompt": "x"})
    s = sample_of({"request_id": "r7", "prompt": "p", "response": "r"})
    assert s == Sample(id="r7", prompt="p", response="r") and sample_of(ROW).extra == {"severity": "3"}


def test_regression_items_keep_the_rejected_answer_and_provenance() -> None:
    item = regression_item(sample_of(ROW))
    assert (item.id, item.input, item.expected) == ("s1", "2+2?", "4")
    assert item.metadata["rejected_response"] == "5" and item.metadata["reason"] == "low_judge"


def test_registry_captured_sample_rows() -> None:
    row = {"id": 7, "request_id": "req-7", "prompt": "p", "response": "r", "label": "negative", "chosen": None,
           "route": "qa", "candidate_id": "c1", "prompt_version": "pv2", "reason": "refusal",
           "degradation_id": "d1", "at": "2026-01-01T00:00:00"}
    s = sample_of(row)
    assert (s.id, s.captured_at, s.prompt_version) == ("7", "2026-01-01T00:00:00", "pv2")
    assert s.extra == {"request_id": "req-7", "degradation_id": "d1"}


def test_a_labelled_sample_exports_its_label_as_chosen_by_default_and_says_so() -> None:
    labelled = sample_of({**ROW, "chosen": None, "expected": "4", "labelled_by": "teacher@1 (m)"})
    numeric = sample_of({**ROW, "id": "s3", "chosen": None, "expected": 4})
    given = sample_of({**ROW, "id": "s4", "chosen": "four", "chosen_by": "fallback champ@1 (m)", "expected": "4"})

    rows, skipped = export_rows([labelled, numeric, given], "dpo")

    assert skipped == 0 and [r["chosen"] for r in rows] == ["4", "4", "four"]
    assert [r["metadata"]["chosen_by"] for r in rows] == ["label", "label", "fallback champ@1 (m)"]
    assert sources([labelled, numeric, given]) == {"label": 2, "fallback": 1}
