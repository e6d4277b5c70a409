"""Validation messages name the field and the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.candidate import CandidateSpec
from services.registry.domain.validation import (
    check_template,
    common_metadata_keys,
    field_errors,
    provided_variables,
    template_variables,
)

GOOD = {"name": "c1", "model": "smollm2", "task": "capitals", "engine": "llamacpp",
        "endpoint": "http://127.0.0.1:8301/v1"}


def errors_for(**changes: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        CandidateSpec.model_validate(GOOD | changes)
    return {e.field: e.reason for e in field_errors(info.value)}


def test_unknown_engine_names_the_field() -> None:
    errors = errors_for(engine="tgi")
    assert "engine" in errors and "sglang" in errors["engine"]


def test_bad_url_names_the_field() -> None:
    assert "endpoint" in errors_for(endpoint="not a url")


def test_temperature_out_of_range_names_the_nested_field() -> None:
    errors = errors_for(decoding={"temperature": 3.5})
    assert "less than or equal to 2" in errors["decoding.temperature"]


def test_model_level_error_drops_the_value_error_prefix() -> None:
    errors = errors_for(endpoint=None)
    assert errors["body"] == "give an endpoint URL or a launch spec"


def test_template_variables_take_the_root_name() -> None:
    assert template_variables("Q: {input} opts {meta[a]} {x.y} {{literal}}") == {"input", "meta", "x"}


def test_positional_fields_are_refused() -> None:
    [error] = check_template("task", "{} and {0}", {"input"})
    assert error.field == "task" and "positional" in error.reason


def test_missing_variables_are_named_with_what_is_available() -> None:
    [error] = check_template("prompt_version", "{input} {choices} {lang}", {"id", "input", "lang"})
    assert error.field == "prompt_version"
    assert "{choices}" in error.reason and "available: id, input, lang" in error.reason


def test_provided_variables_are_the_metadata_keys_every_dataset_has() -> None:
    assert provided_variables([["a", "b"], ["b", "c"]]) == {"id", "input", "b"}
    assert provided_variables([]) == {"id", "input"}


def test_common_metadata_keys() -> None:
    assert common_metadata_keys([{"a": 1, "b": 2}, {"b": 3}]) == ["b"]
