"""A result answered again under its business id with a NEW event id (a service killed after
publishing, or given its command twice) changes nothing in the read models."""

from __future__ import annotations

from fastapi.testclient import TestClient

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed
from schemas.events.prompts import PromptOptimized
from services.registry.adapters.models import Candidate, ResultRecord
from services.registry.bootstrap import RegistryService
from tests.integration.registry.conftest import Auth, candidate_body, deliver
from tests.integration.registry.test_projections import count, submitted


def test_a_repeated_evaluation_result_is_recorded_once(client: TestClient,
                                                       registry: RegistryService, admin: Auth) -> None:
    cid = submitted(client, admin)
    result = EvaluationCompleted(evaluation_id="ev-1", candidate_id=cid, task="capitals", verdict="better")

    assert deliver(registry, new_event(result, source="evaluator")) is True
    assert deliver(registry, new_event(result, source="evaluator")) is False  # a repeat: ev-1 completed already

    assert count(registry, ResultRecord, ResultRecord.candidate_id == cid) == 1


def test_a_different_outcome_of_the_same_run_is_still_recorded(client: TestClient, registry: RegistryService,
                                                               admin: Auth) -> None:
    cid = submitted(client, admin)
    failed = EvaluationFailed(evaluation_id="ev-2", candidate_id=cid, reason="endpoint down")
    completed = EvaluationCompleted(evaluation_id="ev-2", candidate_id=cid, task="capitals", verdict="better")

    for data in (failed, completed):
        deliver(registry, new_event(data, source="evaluator"))

    assert count(registry, ResultRecord, ResultRecord.run_id == "ev-2") == 2


def test_a_repeated_accepted_optimization_derives_one_candidate(client: TestClient, registry: RegistryService,
                                                                admin: Auth) -> None:
    cid = submitted(client, admin)
    derived = CandidateSpec.model_validate(candidate_body(name="smol-opt"))
    result = PromptOptimized(run_id="po-1", candidate_id=cid, accepted=True, reason="+12 points", baseline_score=0.5,
                             best_score=0.62, prompt_template="Capital of {input}?", derived_spec=derived)

    for _ in range(2):
        deliver(registry, new_event(result, source="prompt_optimizer"))

    assert count(registry, Candidate, Candidate.parent_id == cid) == 1
    assert count(registry, ResultRecord, ResultRecord.run_id == "po-1") == 1
