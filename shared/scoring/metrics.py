"""Deterministic metrics: `score(metric, output, expected, args) -> float` in [0, 1].

A model's output is untrusted input: malformed output scores 0 and nothing here raises on
it. A malformed *task* (unknown metric, a bad regex or schema) raises ValueError, because that
is the requester's mistake and must be reported, not silently scored as wrong.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

Args = Mapping[str, Any]
BINARY_METRICS = frozenset({"exact_match", "contains", "regex", "numeric", "choice", "json_valid", "json_schema"})
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def normalize(text: str) -> str:
    """SQuAD-style: lowercase, drop punctuation and articles, collapse whitespace."""
    text = _ARTICLES.sub(" ", str(text).lower().translate(_PUNCT))
    return " ".join(text.split())


def _alternatives(expected: object) -> list[str]:
    if expected is None:
        return []
    if isinstance(expected, list | tuple):
        return [str(e) for e in expected]
    return [str(expected)]


def exact_match(output: str, expected: object, args: Args) -> float:
    got = normalize(output)
    return float(any(got == normalize(e) for e in _alternatives(expected)))


def contains(output: str, expected: object, args: Args) -> float:
    got = normalize(output)
    hits = [normalize(e) in got for e in _alternatives(expected) if normalize(e)]
    if not hits:
        return 0.0
    return float(all(hits) if args.get("mode") == "all" else any(hits))


def regex(output: str, expected: object, args: Args) -> float:
    pattern = args.get("pattern") or (expected if isinstance(expected, str) else None)
    if not pattern:
        raise ValueError("metric 'regex' needs metric_args.pattern or a string `expected`")
    flags = re.IGNORECASE if args.get("ignore_case", True) else 0
    try:
        compiled = re.compile(str(pattern), flags)
    except re.error as exc:
        raise ValueError(f"metric 'regex': bad pattern {pattern!r}: {exc}") from exc
    return float(compiled.search(output) is not None)


def extract_number(text: str, *, which: str = "last") -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    raw = (found[0] if which == "first" else found[-1]).replace(",", "")
    try:
        return float(raw)
    except ValueError:
        return None


def numeric(output: str, expected: object, args: Args) -> float:
    target = expected if isinstance(expected, int | float) and not isinstance(expected, bool) else None
    if target is None and isinstance(expected, str):
        target = extract_number(expected)
    if target is None:
        raise ValueError(f"metric 'numeric' needs a numeric `expected`, got {expected!r}")
    got = extract_number(output, which=str(args.get("which", "last")))
    if got is None:
        return 0.0
    tol = max(float(args.get("tolerance", 1e-6)), float(args.get("rel_tolerance", 0.0)) * abs(float(target)))
    return float(abs(got - float(target)) <= tol)


def extract_choice(output: str, labels: list[str]) -> str | None:
    """The label the output names first (whole word, case-insensitive); a lone letter answer
    such as "B" or "(b)" picks the label at that position when labels are not letters."""
    text = output.strip()
    best: tuple[int, int, str] | None = None
    for label in labels:
        m = re.search(rf"(?<![A-Za-z0-9]){re.escape(label)}(?![A-Za-z0-9])", text, re.IGNORECASE)
        if m and (best is None or (m.start(), -len(label)) < best[:2]):
            best = (m.start(), -len(label), label)
    if best is not None:
        return best[2]
    letter = re.fullmatch(r"\(?([A-Za-z])[).:]?", text)
    if letter:
        pos = ord(letter.group(1).upper()) - ord("A")
        return labels[pos] if 0 <= pos < len(labels) else None
    return None


def choice(output: str, expected: object, args: Args) -> float:
    labels = args.get("labels") or args.get("choices")
    if not isinstance(labels, list) or not labels:
        raise ValueError("metric 'choice' needs metric_args.labels: a list of label strings")
    got = extract_choice(output, [str(x) for x in labels])
    return float(got is not None and any(got.lower() == e.strip().lower() for e in _alternatives(expected)))


def parse_json(output: str) -> tuple[bool, Any]:
    """(ok, value) for the output as JSON, accepting one surrounding ``` fence."""
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return True, json.loads(text)
    except (json.JSONDecodeError, ValueError, RecursionError):
        return False, None


def json_valid(output: str, expected: object, args: Args) -> float:
    return float(parse_json(output)[0])


def _schema(expected: object, args: Args) -> dict[str, Any]:
    raw = args.get("schema", expected)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"metric 'json_schema': schema is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("metric 'json_schema' needs metric_args.schema (JSON text) or a dict `expected`")
    try:
        jsonschema.Draft202012Validator.check_schema(raw)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"metric 'json_schema': invalid schema: {exc.message}") from exc
    return raw


def json_schema(output: str, expected: object, args: Args) -> float:
    schema = _schema(expected, args)
    ok, value = parse_json(output)
    try:
        return float(ok and jsonschema.Draft202012Validator(schema).is_valid(value))
    except RecursionError:  # pathologically nested output
        return 0.0


def _f1(got: list[str], want: list[str]) -> float:
    common = sum((Counter(got) & Counter(want)).values())
    if not got or not want:
        return float(got == want)
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def token_f1(output: str, expected: object, args: Args) -> float:
    got = normalize(output).split()
    return max((_f1(got, normalize(e).split()) for e in _alternatives(expected)), default=0.0)


METRICS: dict[str, Callable[[str, object, Args], float]] = {
    "exact_match": exact_match, "contains": contains, "regex": regex, "numeric": numeric,
    "choice": choice, "json_valid": json_valid, "json_schema": json_schema, "token_f1": token_f1,
}


def score(metric: str, output: str, expected: object, args: Args | None = None) -> float:
    fn = METRICS.get(metric)
    if fn is None:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)} (and 'judge', which is async)")
    if not isinstance(output, str):
        return 0.0
    return fn(output, expected, args or {})


def is_binary(metric: str) -> bool:
    return metric in BINARY_METRICS


def answer_key(metric: str, output: str, args: Args | None = None) -> str:
    """What counts as 'the same answer' across repeats: the extracted label for `choice`, the
    number for `numeric`, else the normalized text."""
    args = args or {}
    if metric == "choice" and isinstance(args.get("labels") or args.get("choices"), list):
        return str(extract_choice(output, [str(x) for x in (args.get("labels") or args.get("choices"))]))
    if metric == "numeric":
        return str(extract_number(output, which=str(args.get("which", "last"))))
    return normalize(output)
