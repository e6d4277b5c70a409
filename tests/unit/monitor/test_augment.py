import pytest

from services.monitor.domain.augment import Sample, augment, dedup, normalized, reorder, typos, variant
from services.monitor.domain.exports import sample_of, sample_row

ORIGIN = Sample(id="s1", prompt="What is the capital of France? Answer in one word, please.", response="I'm sorry.",
                reason="refusal", route="qa", candidate_id="c1", prompt_version="pv3",
                captured_at="2026-01-01T00:00:00+00:00")


def test_every_variant_keeps_provenance_to_its_origin() -> None:
    kept, _ = augment([ORIGIN], ["perturb", "distractor", "paraphrase"],
                      {"s1": ["Which city is France's capital? One word."]})
    assert {v.method for v in kept} >= {"typos", "reorder", "distractor", "paraphrase0"}
    for v in kept:
        assert v.origin_id == "s1" and v.id.startswith("s1~") and v.label == "negative"
        assert (v.route, v.candidate_id, v.prompt_version, v.captured_at, v.reason) == \
               ("qa", "c1", "pv3", "2026-01-01T00:00:00+00:00", "refusal")
        assert v.extra["origin_prompt"] == ORIGIN.prompt and v.prompt != ORIGIN.prompt


def test_perturbations_are_deterministic() -> None:
    assert augment([ORIGIN], ["perturb"]) == augment([ORIGIN], ["perturb"])
    assert reorder("First part. Second part.") == "Second part. First part."
    assert reorder("a, b, c") == "c, a, b" and reorder("single") == "single"


def test_near_duplicates_removed_by_normalized_text_and_ngrams() -> None:
    kept, removed = augment([ORIGIN], ["perturb"])
    # whitespace, upper and lower are the same text once normalized: only the first stays
    assert [v.method for v in kept] == ["typos", "reorder", "whitespace"] and removed == 2
    near = variant(ORIGIN, "x", ORIGIN.prompt.replace("please", "pls"))
    same = variant(ORIGIN, "y", ORIGIN.prompt.replace("please", "pleas"))
    kept, removed = dedup([ORIGIN], [near, same], threshold=0.9)
    assert [v.method for v in kept] == ["x"] and removed == 1
    copy = variant(ORIGIN, "z", ORIGIN.prompt)
    assert dedup([ORIGIN], [copy]) == ([], 1)


def test_paraphrase_equal_to_original_is_dropped_and_unknown_method_rejected() -> None:
    kept, removed = augment([ORIGIN], ["paraphrase"], {"s1": [ORIGIN.prompt, "  "]})
    assert kept == [] and removed == 1
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment([ORIGIN], ["shout"])


def test_typos_change_only_long_words() -> None:
    import random
    out = typos("a an the capital France", random.Random(1), rate=1.0)
    assert out.split()[:3] == ["a", "an", "the"] and normalized(out) != normalized("a an the capital France")


def test_augmented_rows_round_trip() -> None:
    kept, _ = augment([ORIGIN], ["distractor"])
    assert [sample_of(sample_row(v)) for v in kept] == kept
