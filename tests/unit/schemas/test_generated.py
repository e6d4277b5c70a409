"""The generated contracts are up to date and describe what the codec really sends."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from schemas import EVENT_TYPES, TOPICS
from schemas.generate import ASYNCAPI, JSON_DIR, event_schema, rendered, stale
from tests.unit.bus.events import submitted


def test_generated_files_match_the_models() -> None:
    problems = stale(rendered())

    assert problems == [], "run `make schemas` and commit: " + "; ".join(problems)


def test_every_event_type_has_one_schema_file() -> None:
    names = {p.name for p in JSON_DIR.glob("*.schema.json")} - {"candidate-spec.schema.json"}

    assert len(names) == len(EVENT_TYPES)


def test_asyncapi_lists_every_topic_with_its_partitions() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())

    channels = {c["address"]: c["bindings"]["kafka"]["partitions"] for c in doc["channels"].values()}
    assert channels == {t.name: t.partitions for t in TOPICS}


def test_an_encoded_envelope_validates_against_its_json_schema() -> None:
    event = submitted()
    schema = event_schema(type(event.data))

    jsonschema.validate(json.loads(event.model_dump_json()), schema)


def test_the_schema_pins_the_type_constant() -> None:
    event = submitted()
    wrong = json.loads(event.model_dump_json()) | {"type": "io.challenger.model.approved"}

    with pytest.raises(jsonschema.ValidationError, match="was expected"):
        jsonschema.validate(wrong, event_schema(type(event.data)))
