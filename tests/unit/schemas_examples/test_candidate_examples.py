from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from schemas.candidate import CandidateSpec

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "candidates").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_documented_examples_are_valid_candidates(path: Path) -> None:
    CandidateSpec.model_validate(yaml.safe_load(path.read_text()))


def test_a_spec_needs_an_endpoint_or_a_launch_spec() -> None:
    with pytest.raises(ValidationError, match="endpoint URL or a launch spec"):
        CandidateSpec(name="x", model="m", task="t", engine="openai")


def test_out_of_range_temperature_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        CandidateSpec(name="x", model="m", task="t", engine="openai", endpoint="http://h/v1",
                      decoding={"temperature": 3})
    assert exc.value.errors()[0]["loc"] == ("decoding", "temperature")
