"""Submission checks that need the registry's state, as pure functions, and one error shape:
a list of {field, reason} that every 422 returns."""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

ITEM_FIELDS: frozenset[str] = frozenset({"id", "input"})


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class Invalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(".".join(str(p) for p in e["loc"]) or "body", _reason(e)) for e in exc.errors()]


def _reason(error: object) -> str:
    msg = str(error["msg"])  # type: ignore[index]
    return msg.removeprefix("Value error, ")


def template_variables(template: str) -> set[str]:
    """The top-level names a str.format template uses (`{meta[x]}` and `{a.b}` count as `meta`, `a`)."""
    names: set[str] = set()
    for _literal, name, _spec, _conv in string.Formatter().parse(template):
        if name is None:
            continue
        root = name.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise ValueError(f"positional field {{{name}}} is not allowed; name the item field")
        names.add(root)
    return names


def provided_variables(dataset_fields: Iterable[list[str]]) -> set[str]:
    """Variables every item of every dataset provides: id, input, and metadata keys common to all."""
    common: set[str] | None = None
    for fields in dataset_fields:
        common = set(fields) if common is None else common & set(fields)
    return set(ITEM_FIELDS) | (common or set())


def template_syntax_errors(field: str, template: str) -> list[FieldError]:
    try:
        template_variables(template)
    except ValueError as exc:
        return [FieldError(field, f"not a valid template: {exc}")]
    return []


def check_template(field: str, template: str, provided: set[str]) -> list[FieldError]:
    errors = template_syntax_errors(field, template)
    if errors:
        return errors
    used = template_variables(template)
    missing = sorted(used - provided)
    if missing:
        return [FieldError(field, f"template uses {', '.join('{' + m + '}' for m in missing)} which the task "
                                  f"does not provide; available: {', '.join(sorted(provided))}")]
    return []


def common_metadata_keys(metadatas: Iterable[dict[str, object]]) -> list[str]:
    common: set[str] | None = None
    for meta in metadatas:
        common = set(meta) if common is None else common & set(meta)
    return sorted(common or set())
