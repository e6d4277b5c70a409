"""Labelled captured samples as regression items (with provenance), versions that grow, and the
preferred answer for SFT/DPO. Pure."""

from __future__ import annotations

from schemas.task import TaskSpec
from services.registry.domain.exports import export_line
from services.registry.domain.labelling import Labelled, Provenance, merged, preferred, regression_items
from shared.scoring.labels import label_error

PROV = Provenance("deg-1", "sentiment", "cand-a", "w7", "2026-12-07T01:00:00+00:00", "2026-12-07T01:01:00+00:00")
SAMPLES = [Labelled(1, "req-1", "I loved it", "positive", "teacher@1 (smol)", "refusal"),
           Labelled(2, "req-2", "Dreadful", "negative", "alice", "low_judge")]


def test_each_labelled_sample_becomes_an_item_with_its_label_and_provenance() -> None:
    items = regression_items(PROV, SAMPLES)

    assert [(i.id, i.input, i.expected) for i in items] == [("captured-1", "I loved it", "positive"),
                                                            ("captured-2", "Dreadful", "negative")]
    meta = items[0].metadata
    assert {k: meta[k] for k in ("degradation_id", "route", "candidate_id", "window_id", "window_start")} == {
        "degradation_id": "deg-1", "route": "sentiment", "candidate_id": "cand-a", "window_id": "w7",
        "window_start": "2026-12-07T01:00:00+00:00"}
    assert meta["labelled_by"] == "teacher@1 (smol)" and items[1].metadata["labelled_by"] == "alice"
    assert meta["captured_reason"] == "refusal" and meta["request_id"] == "req-1"


def test_variants_keep_their_origins_label_and_name_their_method() -> None:
    items = regression_items(PROV, SAMPLES, [(1, "paraphrase0", "I really enjoyed it"), (9, "distractor", "x"),
                                             (2, "distractor", "  ")])

    [variant] = [i for i in items if i.metadata.get("method")]
    assert variant.id == "captured-1~paraphrase0" and variant.expected == "positive"
    assert variant.metadata["origin_id"] == "captured-1" and variant.metadata["degradation_id"] == "deg-1"


def test_a_new_version_puts_the_new_items_first_keeps_the_previous_and_replaces_same_ids() -> None:
    first = regression_items(PROV, SAMPLES[:1])
    relabelled = [first[0].model_copy(update={"expected": "negative"})]
    previous = [i.model_dump(mode="json") for i in regression_items(PROV, SAMPLES)]

    items = merged(previous, relabelled)

    assert [(i.id, i.expected) for i in items] == [("captured-1", "negative"), ("captured-2", "negative")]


def test_the_preferred_answer_is_the_given_one_else_a_text_label() -> None:
    assert preferred("positive", None, None) == ("positive", "label")
    assert preferred(42, None, None) == ("42", "label")
    assert preferred("positive", "Great film!", "fallback champ@1 (m)") == ("Great film!", "fallback champ@1 (m)")
    assert preferred(None, "Paris", None) == ("Paris", "operator")
    assert preferred({"a": 1}, None, None) == (None, None)
    assert preferred(True, None, None) == (None, None)


def test_an_export_line_says_where_its_chosen_answer_came_from() -> None:
    line = export_line("dpo", prompt="p", response="bad", chosen="good", chosen_from="label")

    assert line == {"prompt": "p", "chosen": "good", "rejected": "bad", "metadata": {"chosen_from": "label"}}
    assert export_line("sft", prompt="p", response="same", chosen="same", chosen_from="label") is None


def test_a_label_the_tasks_metric_cannot_score_against_is_refused() -> None:
    choice = TaskSpec(name="s", metric="choice", metric_args={"labels": ["positive", "negative"]})
    numeric = TaskSpec(name="a", metric="numeric")

    assert label_error(choice, "positive") is None and label_error(numeric, "The answer is 42") is None
    assert "not one of the task's labels" in (label_error(choice, "meh") or "")
    assert "needs a numeric `expected`" in (label_error(numeric, "no idea") or "")
    assert label_error(TaskSpec(name="j", metric="judge"), "anything") is None
