import pytest

from shared.scoring.metrics import answer_key, extract_choice, extract_number, is_binary, normalize, score


@pytest.mark.parametrize(("metric", "output", "expected", "args", "want"), [
    ("exact_match", "The Paris.", "paris", {}, 1.0),
    ("exact_match", "  PARIS  ", ["Lyon", "Paris"], {}, 1.0),
    ("exact_match", "Paris, France", "Paris", {}, 0.0),
    ("contains", "I think it is Paris, France.", "paris", {}, 1.0),
    ("contains", "Lyon", "paris", {}, 0.0),
    ("contains", "red and blue", ["red", "green"], {"mode": "all"}, 0.0),
    ("contains", "red and green", ["red", "green"], {"mode": "all"}, 1.0),
    ("regex", "Order #12345 shipped", None, {"pattern": r"#\d{5}\b"}, 1.0),
    ("regex", "no order here", r"#\d{5}", {}, 0.0),
    ("numeric", "The answer is 1,234.5 apples", 1234.5, {}, 1.0),
    ("numeric", "First 3 then 42", "42", {}, 1.0),
    ("numeric", "First 3 then 42", 3, {"which": "first"}, 1.0),
    ("numeric", "about 101", 100, {"tolerance": 1}, 1.0),
    ("numeric", "about 103", 100, {"rel_tolerance": 0.02}, 0.0),
    ("numeric", "no digits at all", 7, {}, 0.0),
    ("choice", "Sentiment: Positive!", "positive", {"labels": ["positive", "negative", "neutral"]}, 1.0),
    ("choice", "negative, not positive", "positive", {"labels": ["positive", "negative"]}, 0.0),
    ("choice", "(B)", "negative", {"labels": ["positive", "negative"]}, 1.0),
    ("choice", "I cannot decide", "positive", {"labels": ["positive", "negative"]}, 0.0),
    ("choice", "nonpositive", "positive", {"labels": ["positive", "negative"]}, 0.0),
    ("json_valid", '{"a": 1}', None, {}, 1.0),
    ("json_valid", '```json\n{"a": 1}\n```', None, {}, 1.0),
    ("json_valid", '{"a": 1', None, {}, 0.0),
    ("json_valid", "", None, {}, 0.0),
    ("json_schema", '{"name": "x", "age": 3}', None,
     {"schema": '{"type": "object", "required": ["name", "age"], "properties": {"age": {"type": "integer"}}}'}, 1.0),
    ("json_schema", '{"name": "x", "age": "3"}',
     {"type": "object", "properties": {"age": {"type": "integer"}}}, {}, 0.0),
    ("json_schema", "not json", {"type": "object"}, {}, 0.0),
    ("token_f1", "the cat sat on the mat", "cat sat on mat", {}, 1.0),
    ("token_f1", "cat", "cat sat", {}, pytest.approx(2 / 3)),
    ("token_f1", "", "cat", {}, 0.0),
    ("token_f1", "dog", ["cat", "dog"], {}, 1.0),
])
def test_metric_cases(metric, output, expected, args, want):
    assert score(metric, output, expected, args) == want


@pytest.mark.parametrize("metric", ["exact_match", "contains", "numeric", "choice", "json_valid", "token_f1"])
@pytest.mark.parametrize("garbage", ["", "\x00\x01\ufffd", "{" * 5000, "[" * 100_000, "💥" * 50, None, 42])
def test_malformed_output_scores_zero_and_never_raises(metric, garbage):
    args = {"labels": ["positive", "negative"]}
    assert score(metric, garbage, "positive" if metric != "numeric" else 7, args) == 0.0


def test_bad_task_configuration_raises_clearly():
    with pytest.raises(ValueError, match="unknown metric"):
        score("bleu", "x", "x", {})
    with pytest.raises(ValueError, match="bad pattern"):
        score("regex", "x", None, {"pattern": "("})
    with pytest.raises(ValueError, match="labels"):
        score("choice", "x", "x", {})
    with pytest.raises(ValueError, match="invalid schema"):
        score("json_schema", "{}", None, {"schema": '{"type": 12}'})


def test_helpers():
    assert normalize("  The  Quick, brown FOX! ") == "quick brown fox"
    assert extract_number("-3.5e2 or .5") == 0.5
    assert extract_number("-3.5e2", which="first") == -350.0
    assert extract_choice("b", ["yes", "no"]) == "no"
    assert extract_choice("neutral-ish", ["neutral", "neutral-ish"]) == "neutral-ish"
    assert answer_key("choice", "It is NEGATIVE.", {"labels": ["positive", "negative"]}) == "negative"
    assert answer_key("numeric", "x=4.0", {}) == "4.0"
    assert is_binary("choice") and not is_binary("token_f1")
