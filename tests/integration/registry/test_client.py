"""`challenger.client` (sync and async) against a real registry over HTTP: typed answers, and every
refusal raised with the registry's own words, the same the REST API returns."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from challenger.client import AsyncClient, Client, Conflict, Forbidden, Invalid, NotFound, RegistryError, Unreachable
from schemas.task import DatasetItem
from services.prompt_optimizer.adapters.registry import candidate_spec, start_and_wait
from services.registry.adapters.models import CandidatePublic, TaskPublic
from shared.process import free_port
from tests.integration.registry.conftest import candidate_body


def test_tasks_round_trip_with_typed_answers(served: str) -> None:
    with Client() as registry:  # CHALLENGER_REGISTRY_URL and the admin token in CHALLENGER_HOME
        created = registry.create_task("faq", metric="contains", prompt_template="Q: {input}\nA:")
        assert isinstance(created, TaskPublic) and (created.metric, created.prompt_style) == ("contains", "chat")
        updated = registry.update_task("faq", system_prompt="Be brief.", description="support answers")
        assert (updated.system_prompt, updated.prompt_template) == ("Be brief.", "Q: {input}\nA:")
        assert registry.task("faq") == updated and "faq" in [t.name for t in registry.tasks()]
        cleared = registry.update_task("faq", system_prompt=None)
        assert cleared.system_prompt is None and registry.task_spec("faq").name == "faq"


def test_refusals_carry_the_registry_words(served: str) -> None:
    base = httpx.Client(base_url=f"{os.environ['CHALLENGER_REGISTRY_URL']}/api/v1",
                        headers={"Authorization": f"Bearer {served}"})
    with Client() as registry:
        with pytest.raises(Invalid) as invalid:
            registry.create_task("bad", metric="bleu", prompt_style="sideways")
        raw = base.post("/tasks", json={"name": "bad", "metric": "bleu", "prompt_style": "sideways"}).json()
        assert [(e.field, e.reason) for e in invalid.value.errors] == [(e["field"], e["reason"])
                                                                       for e in raw["detail"]]
        assert {e.field for e in invalid.value.errors} == {"body.metric", "body.prompt_style"}
        assert invalid.value.status == 422

        registry.create_task("dup")
        with pytest.raises(Conflict) as conflict:
            registry.create_task("dup")
        assert conflict.value.detail == base.post("/tasks", json={"name": "dup"}).json()["detail"]
        assert conflict.value.detail == "task 'dup' already exists; PATCH it instead"

        with pytest.raises(NotFound, match="task 'nope' not found"):
            registry.update_task("nope", description="x")
        submitter = registry.create_token("sam", "submitter").token
    with Client(token=submitter) as sam, pytest.raises(Forbidden) as forbidden:
        sam.create_task("mine")
    assert forbidden.value.status == 403 and "manage_tasks" in forbidden.value.detail


def test_candidates_datasets_and_history(served: str) -> None:
    with Client() as registry:
        cand = registry.submit(candidate_body(name="typed"))
        assert isinstance(cand, CandidatePublic) and cand.stage == "submitted"
        yaml_doc = registry.submit(b"name: from-yaml\nmodel: m\ntask: capitals\nengine: openai\n"
                                   b"endpoint: http://127.0.0.1:9/v1\n")
        assert yaml_doc.name == "from-yaml"
        moved = registry.transition(cand.id, "evaluating", "go")
        assert moved.stage == "evaluating" and [h.to_stage for h in registry.history(cand.id)][-1] == "evaluating"
        assert [c.id for c in registry.candidates(task="capitals", stage="evaluating")] == [cand.id]
        assert registry.scorecard(cand.id)["candidate"]["id"] == cand.id
        dataset = registry.upload_dataset("capitals", [DatasetItem(id="a", input="Chile?", expected="Santiago")],
                                          name="extra")
        assert dataset.items == 1 and registry.dataset_items(dataset.id)[0]["input"] == "Chile?"
        with pytest.raises(Invalid) as invalid:
            registry.submit(candidate_body(decoding={"temperature": 7}))
        assert [e.field for e in invalid.value.errors] == ["decoding.temperature"]


async def test_async_client_sends_the_same_calls(served: str) -> None:
    async with AsyncClient() as registry:
        created = await registry.create_task("async-task", metric="exact_match")
        assert created.name == "async-task" and (await registry.task("async-task")).metric == "exact_match"
        cand = await registry.submit(candidate_body(name="async-cand"))
        assert (await registry.candidate(cand.id)).name == "async-cand"
        assert (await registry.me()).role == "admin"
        with pytest.raises(Conflict, match="already exists"):
            await registry.create_task("async-task")


def test_no_registry_is_unreachable() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", token="") as registry, pytest.raises(Unreachable):
        registry.tasks()


async def test_the_optimizer_reads_specs_and_waits_for_searches_through_the_client(served: str) -> None:
    url = os.environ["CHALLENGER_REGISTRY_URL"]
    async with AsyncClient() as registry:
        cand = await registry.submit(candidate_body(name="searched"))
    assert (await candidate_spec(url, cand.id, served)).name == "searched"
    with pytest.raises(NotFound, match="not found"):
        await candidate_spec(url, "cand-missing", served)
    started: list[dict[str, Any]] = []
    with pytest.raises(RegistryError, match="no result for"):  # no optimizer runs here: it stays requested
        await start_and_wait(url, cand.id, {"space": {"max_tokens": [2, 16]}}, served, timeout=0.3, poll=0.1,
                             on_start=started.append)
    assert started[0]["status"] == "requested" and started[0]["candidate_id"] == cand.id
    with pytest.raises(Invalid, match="space"):
        await start_and_wait(url, cand.id, {"space": {"nonsense": 1}}, served, timeout=1)
