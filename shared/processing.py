"""Declared pre- and post-processing steps (`schemas.candidate.ProcessingStep`) as pure functions.

The evaluator, the gateway, the load tester and the optimizers apply a candidate's steps
through this one module, so a step means the same thing everywhere. No I/O.

Pre-processing turns an item's input text into the text sent to the model:
- `template`  {"template": "Review: {input}\\nSentiment:"}: str.format over `input` and the item's fields.
- `truncate`  {"max_chars": 2000, "side": "head"|"tail"}: keep the first (or last) characters.
Post-processing turns the model's raw output into the answer that is scored or returned:
- `strip`         {"chars": " .", "lower": false, "first_line": false}
- `regex_extract` {"pattern": "...", "group": 1, "default": ""}: the first match (or `default`).
- `label_map`     {"map": {"pos": "positive"}, "default": "", "contains": true}: normalise to a label.
- `json_extract`  {"repair": true, "key": ""}: the first JSON object/array, repaired if asked.
- `max_length`    {"max_chars": 200}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas.candidate import ProcessingStep

Args = Mapping[str, Any]


class ProcessingError(ValueError):
    """A step is declared wrongly (bad args); raised when a step is applied or validated."""


def _int_arg(args: Args, name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProcessingError(f"argument {name!r} must be a non-negative integer, got {value!r}")
    return value


def template(text: str, args: Args, fields: Mapping[str, Any]) -> str:
    pattern = args.get("template")
    if not isinstance(pattern, str):
        raise ProcessingError("template needs a string argument 'template'")
    try:
        return pattern.format(**{**fields, "input": text})
    except (KeyError, IndexError, ValueError) as exc:
        raise ProcessingError(f"template {pattern[:60]!r} cannot be filled: {exc}") from exc


def truncate(text: str, args: Args, fields: Mapping[str, Any]) -> str:
    limit = _int_arg(args, "max_chars")
    if len(text) <= limit:
        return text
    return text[len(text) - limit:] if args.get("side", "head") == "tail" else text[:limit]


def strip(text: str, args: Args) -> str:
    chars = args.get("chars")
    out = text.strip().strip(chars) if isinstance(chars, str) else text.strip()
    if args.get("first_line"):
        out = out.split("\n", 1)[0].strip()
    return out.lower() if args.get("lower") else out


def regex_extract(text: str, args: Args) -> str:
    pattern = args.get("pattern")
    if not isinstance(pattern, str):
        raise ProcessingError("regex_extract needs a string argument 'pattern'")
    try:
        match = re.search(pattern, text, flags=re.IGNORECASE if args.get("ignore_case") else 0)
    except re.error as exc:
        raise ProcessingError(f"bad regex {pattern!r}: {exc}") from exc
    if match is None:
        return str(args.get("default", ""))
    group = _int_arg(args, "group", 1 if match.re.groups else 0)
    return match.group(group) or ""


def label_map(text: str, args: Args) -> str:
    """Exact (case-insensitive) key match first; then, with `contains`, the key that occurs
    earliest in the text as a whole word; else `default` (or the text when no default)."""
    mapping = args.get("map")
    if not isinstance(mapping, Mapping) or not mapping:
        raise ProcessingError("label_map needs a non-empty dict argument 'map'")
    norm = {str(k).strip().lower(): str(v) for k, v in mapping.items()}
    key = text.strip().strip(".!\"'").lower()
    if key in norm:
        return norm[key]
    if args.get("contains", True):
        hits = [(m.start(), k) for k in norm if (m := re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE))]
        if hits:
            return norm[min(hits)[1]]
    default = args.get("default")
    return str(default) if default is not None else text


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")


def _json_span(text: str) -> str | None:
    """From the first { or [ to its matching close (or to the end when unclosed)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start, depth, in_str, escaped = min(starts), 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            escaped = ch == "\\" and not escaped
            in_str = not (ch == '"' and not escaped)
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return text[start:]


def repair_json(raw: str) -> str:
    """Common LLM damage: single quotes, bare keys, trailing commas, Python literals, and
    brackets left open at the end of the output."""
    fixed = raw.strip()
    if '"' not in fixed:
        fixed = fixed.replace("'", '"')
    fixed = _BARE_KEY.sub(r'\1"\2":', fixed)
    fixed = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", re.sub(r"\bNone\b", "null", fixed)))
    if fixed.count('"') % 2:
        fixed += '"'
    closers = []
    for ch in re.sub(r'"(?:\\.|[^"\\])*"', "", fixed):
        if ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
    fixed = fixed.rstrip().rstrip(",") + "".join(reversed(closers))
    return _TRAILING_COMMA.sub(r"\1", fixed)


def parse_json_loose(text: str, *, repair: bool = True) -> Any:
    """The first JSON value in `text` (inside a code fence if there is one), or raise ValueError."""
    fenced = _FENCE.search(text)
    span = _json_span(fenced.group(1) if fenced else text)
    if span is None:
        raise ValueError("no JSON object or array in the output")
    try:
        return json.loads(span)
    except json.JSONDecodeError:
        if not repair:
            raise
    return json.loads(repair_json(span))


def json_extract(text: str, args: Args) -> str:
    """Canonical JSON text of the extracted value (or of its `key`); the raw text when none parses."""
    try:
        value = parse_json_loose(text, repair=bool(args.get("repair", True)))
    except ValueError:
        return text
    key = args.get("key")
    if key and isinstance(value, dict):
        value = value.get(str(key))
        return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(value, sort_keys=True)


def max_length(text: str, args: Args) -> str:
    return text[:_int_arg(args, "max_chars")]


PRE_STEPS: dict[str, Callable[[str, Args, Mapping[str, Any]], str]] = {"template": template, "truncate": truncate}
POST_STEPS: dict[str, Callable[[str, Args], str]] = {
    "strip": strip, "regex_extract": regex_extract, "label_map": label_map,
    "json_extract": json_extract, "max_length": max_length,
}


def preprocess(steps: Sequence[ProcessingStep], text: str, fields: Mapping[str, Any] | None = None) -> str:
    for step in steps:
        if step.op not in PRE_STEPS:
            raise ProcessingError(f"{step.op!r} is a post-processing step, not a pre-processing one")
        text = PRE_STEPS[step.op](text, step.args, fields or {})
    return text


def postprocess(steps: Sequence[ProcessingStep], text: str) -> str:
    for step in steps:
        if step.op not in POST_STEPS:
            raise ProcessingError(f"{step.op!r} is a pre-processing step, not a post-processing one")
        text = POST_STEPS[step.op](text, step.args)
    return text
