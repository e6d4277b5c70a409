"""The service on a real broker: bad input becomes a `failed` event and the consumer keeps going."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.candidate import CandidateSpec, Engine
from schemas.envelope import new_event
from schemas.events.prompts import ConfigSearchRequested, PromptOptimizationRequested
from services.prompt_optimizer.handlers import prompt_store
from shared.datasets import BUILTIN_TASKS
from shared.settings import Settings
from tests.conftest import own_broker
from tests.integration.prompt_optimizer.helpers import dataset_ref, publish, results_for, running_service

NOWHERE = "http://127.0.0.1:9"  # never called: each request fails before any model call


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own broker: the service reads challenger.prompts from the beginning, and a
    request another test left on the shared broker (the demo's real optimization run) would
    hold the one-run-at-a-time queue ahead of these for longer than they wait."""
    yield from own_broker(tmp_path_factory.mktemp("optimizer-broker"))


def request(run_id: str, task_spec: object, **extra: object) -> PromptOptimizationRequested:
    cand = CandidateSpec(name="c", model="gemma3", task="sentiment", engine=Engine.openai, endpoint=NOWHERE)
    return PromptOptimizationRequested(run_id=run_id, candidate_id=f"cand-{run_id}", task="sentiment",
                                       candidate=cand, task_spec=task_spec, **extra)  # type: ignore[arg-type]


async def test_bad_requests_become_failed_events_with_reasons(broker: str, uid: str, tmp_path: Path) -> None:
    spec = BUILTIN_TASKS["sentiment"].spec
    tampered = spec.model_copy(update={"datasets": [dataset_ref(tmp_path, "sentiment", 12, sha256="0" * 64)]})
    no_data = spec.model_copy(update={"datasets": []})
    good_data = spec.model_copy(update={"datasets": [dataset_ref(tmp_path, "sentiment", 12)]})
    cases = {
        f"tampered-{uid}": (request(f"tampered-{uid}", tampered, strategy="fewshot"), "does not match its sha256"),
        f"nodata-{uid}": (request(f"nodata-{uid}", no_data, strategy="fewshot"), "has no golden"),
        f"noopt-{uid}": (request(f"noopt-{uid}", good_data, strategy="instruction"), "needs an optimizer model"),
    }
    async with running_service(broker, tmp_path, uid):
        for req, _ in cases.values():
            await publish(broker, req)
        for run_id, (_, reason) in cases.items():
            found = await results_for(broker, run_id, 1, timeout=40)
            assert [e.type for e in found] == ["io.challenger.prompt_optimization.failed"], run_id
            assert reason in found[0].data.reason


async def test_accepted_but_unfinished_run_resumes_at_startup(broker: str, uid: str, tmp_path: Path) -> None:
    """A request stored by a service that died midway is run when the service starts again."""
    spec = BUILTIN_TASKS["sentiment"].spec.model_copy(update={"datasets": []})
    req = request(f"resume-{uid}", spec, strategy="fewshot")
    store = prompt_store(Settings(home=tmp_path).reports_dir)
    store.save_request(new_event(req, source="test"))
    async with running_service(broker, tmp_path, uid):
        found = await results_for(broker, req.run_id, 1, timeout=40)
    assert [e.type for e in found] == ["io.challenger.prompt_optimization.failed"]
    assert store.pending() == []


async def test_config_search_with_a_bad_space_completes_with_the_reason(broker: str, uid: str, tmp_path: Path) -> None:
    spec = BUILTIN_TASKS["sentiment"].spec.model_copy(update={"datasets": [dataset_ref(tmp_path, "sentiment", 12)]})
    cand = CandidateSpec(name="c", model="smollm2", task="sentiment", engine=Engine.openai, endpoint=NOWHERE)
    req = ConfigSearchRequested(run_id=f"cs-{uid}", candidate_id=f"cand-{uid}", candidate=cand, task_spec=spec,
                                space={"temprature": [0.0, 1.0]})
    async with running_service(broker, tmp_path, uid):
        await publish(broker, req)
        found = await results_for(broker, req.run_id, 1, timeout=40)
    assert [e.type for e in found] == ["io.challenger.config_search.completed"]
    assert found[0].data.status == "failed" and found[0].data.recommended is None
    assert "unknown space dimension" in found[0].data.reason
