"""Sample envelopes shared by the bus unit tests."""

from __future__ import annotations

from typing import Any

from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.models import ModelSubmitted


def sample_spec(**over: Any) -> CandidateSpec:
    fields: dict[str, Any] = {"name": "smol", "model": "smollm2", "task": "qa", "engine": "llamacpp",
                              "endpoint": "http://127.0.0.1:8301/v1"}
    return CandidateSpec.model_validate(fields | over)


def submitted(candidate_id: str = "cand-1", **envelope: Any) -> Envelope[ModelSubmitted]:
    data = ModelSubmitted(candidate_id=candidate_id, spec=sample_spec(), submitted_by="alice")
    return new_event(data, source="tests", **envelope)
