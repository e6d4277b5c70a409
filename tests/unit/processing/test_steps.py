import json

import pytest

from schemas.candidate import ProcessingStep
from shared.processing import ProcessingError, parse_json_loose, postprocess, preprocess, repair_json


def step(op: str, **args: object) -> ProcessingStep:
    return ProcessingStep(op=op, args=args)  # type: ignore[arg-type]


def test_template_and_truncate_build_the_model_input() -> None:
    steps = [step("truncate", max_chars=10), step("template", template="Review: {input} ({lang})\nSentiment:")]
    assert preprocess(steps, "a very long review text", {"lang": "en"}) == "Review: a very lon (en)\nSentiment:"
    assert preprocess([step("truncate", max_chars=4, side="tail")], "abcdefgh") == "efgh"


def test_template_with_unknown_field_is_a_clear_error() -> None:
    with pytest.raises(ProcessingError, match="cannot be filled"):
        preprocess([step("template", template="{nope}")], "x")


def test_strip_lower_and_first_line() -> None:
    assert postprocess([step("strip", lower=True, first_line=True)], "  Positive.\nReview: next") == "positive."
    assert postprocess([step("strip", chars=".")], " positive. ") == "positive"


@pytest.mark.parametrize(("raw", "want"), [
    ("The answer is 42, final.", "42"), ("no number here", "none"), ("-7 apples", "-7")])
def test_regex_extract_takes_first_match_or_default(raw: str, want: str) -> None:
    assert postprocess([step("regex_extract", pattern=r"(-?\d+)", default="none")], raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("POS", "positive"), (" neg.", "negative"), ("I think it is positive overall", "positive"),
    ("negative, not positive", "negative"), ("meh", "unknown")])
def test_label_map_exact_then_earliest_whole_word(raw: str, want: str) -> None:
    mapping = {"pos": "positive", "positive": "positive", "neg": "negative", "negative": "negative"}
    assert postprocess([step("label_map", map=mapping, default="unknown")], raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ('Sure! {"name": "Ana", "age": 3}', {"name": "Ana", "age": 3}),
    ('```json\n{"a": [1, 2,],}\n```', {"a": [1, 2]}),
    ("{'name': 'Bo', 'ok': True}", {"name": "Bo", "ok": True}),
    ('{name: "Cy", age: 40', {"name": "Cy", "age": 40}),
    ('{"name": "Di", "city": "Ro', {"name": "Di", "city": "Ro"}),
])
def test_json_extract_repairs_common_damage(raw: str, want: object) -> None:
    assert json.loads(postprocess([step("json_extract", repair=True)], raw)) == want


def test_json_extract_without_repair_leaves_broken_text_and_can_pick_a_key() -> None:
    assert postprocess([step("json_extract", repair=False)], "{'a': 1}") == "{'a': 1}"
    assert postprocess([step("json_extract", key="city")], 'x {"city": "Oslo"} y') == "Oslo"


def test_json_helpers_directly() -> None:
    assert parse_json_loose('noise [1, 2] {"b": 1}') == [1, 2]
    assert json.loads(repair_json('{"a": {"b": [1, 2')) == {"a": {"b": [1, 2]}}
    with pytest.raises(ValueError):
        parse_json_loose("no json at all")


def test_max_length_and_chaining_in_order() -> None:
    steps = [step("strip"), step("regex_extract", pattern=r"Answer:\s*(\w+)"), step("max_length", max_chars=3)]
    assert postprocess(steps, "  Answer: positive  ") == "pos"


def test_steps_in_the_wrong_phase_or_with_bad_args_are_rejected() -> None:
    with pytest.raises(ProcessingError, match="pre-processing step"):
        postprocess([step("template", template="{input}")], "x")
    with pytest.raises(ProcessingError, match="post-processing step"):
        preprocess([step("strip")], "x")
    with pytest.raises(ProcessingError, match="non-negative integer"):
        postprocess([step("max_length", max_chars="ten")], "x")
    with pytest.raises(ProcessingError, match="bad regex"):
        postprocess([step("regex_extract", pattern="(")], "x")
