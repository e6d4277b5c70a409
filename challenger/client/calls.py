"""Every call of the registry's REST API (/api/v1) as data: method, path, what is sent and how the
answer is read. The sync and the async client send these same calls (clients.py); a call that
carries user input sends it as given, so the registry alone validates it and words the refusal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from schemas.candidate import CandidateSpec
from schemas.task import DatasetItem, TaskSpec
from services.registry.adapters.models import (
    ApprovalPublic,
    CandidatePublic,
    DatasetPublic,
    PromptVersionPublic,
    StageHistoryPublic,
    TaskPublic,
    TokenCreated,
    TokenPublic,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Json = dict[str, Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def request_args(self) -> dict[str, Any]:
        args = {"params": _given(self.params), "json": self.json, "content": self.content, "data": self.data,
                "files": self.files, "headers": dict(self.headers)}
        return {k: v for k, v in args.items() if v is not None}


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _one(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate(response.json())


def _many(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    return lambda response: [model.model_validate(row) for row in response.json()]


def _json(response: httpx.Response) -> Any:
    return response.json()


def _text(response: httpx.Response) -> str:
    return response.text


def _nothing(_response: httpx.Response) -> None:
    return None


def _candidate_body(spec: CandidateSpec | Mapping[str, Any] | bytes) -> dict[str, Any]:
    """A spec, its fields, or a YAML/JSON document sent as is (the registry parses both)."""
    if isinstance(spec, bytes):
        return {"content": spec, "headers": {"Content-Type": "application/yaml"}}
    if isinstance(spec, CandidateSpec):
        return {"json": spec.model_dump(mode="json", exclude_none=True)}
    return {"json": dict(spec)}


# ---- tasks ------------------------------------------------------------------------------


def tasks() -> Call[list[TaskPublic]]:
    return Call("GET", "/tasks", _many(TaskPublic))


def task(name: str) -> Call[TaskPublic]:
    return Call("GET", f"/tasks/{name}", _one(TaskPublic))


def create_task(name: str, **fields: Any) -> Call[TaskPublic]:
    """`fields`: metric, metric_args, prompt_template, prompt_style, system_prompt, description,
    teacher_id, paraphraser_id."""
    return Call("POST", "/tasks", _one(TaskPublic), json={"name": name, **fields})


def update_task(name: str, **fields: Any) -> Call[TaskPublic]:
    """Only the fields given change (system_prompt=None clears it)."""
    return Call("PATCH", f"/tasks/{name}", _one(TaskPublic), json=fields)


def delete_task(name: str) -> Call[None]:
    return Call("DELETE", f"/tasks/{name}", _nothing)


def task_spec(name: str) -> Call[TaskSpec]:
    return Call("GET", f"/tasks/{name}/spec", _one(TaskSpec))


def set_champion(task_name: str, candidate_id: str) -> Call[TaskPublic]:
    return Call("PUT", f"/tasks/{task_name}/champion", _one(TaskPublic), json={"candidate_id": candidate_id})


# ---- candidates -------------------------------------------------------------------------


def submit(spec: CandidateSpec | Mapping[str, Any] | bytes) -> Call[CandidatePublic]:
    return Call("POST", "/candidates", _one(CandidatePublic), **_candidate_body(spec))


def import_champion(spec: CandidateSpec | Mapping[str, Any] | bytes) -> Call[CandidatePublic]:
    return Call("POST", "/candidates/import-champion", _one(CandidatePublic), **_candidate_body(spec))


def candidates(*, stage: str | None = None, task: str | None = None, tag: str | None = None,
               limit: int | None = None) -> Call[list[CandidatePublic]]:
    params = {"stage": stage, "task": task, "tag": tag, "limit": limit}
    return Call("GET", "/candidates", _many(CandidatePublic), params=params)


def candidate(candidate_id: str) -> Call[CandidatePublic]:
    return Call("GET", f"/candidates/{candidate_id}", _one(CandidatePublic))


def retire(candidate_id: str, reason: str = "") -> Call[CandidatePublic]:
    return Call("POST", f"/candidates/{candidate_id}/retire", _one(CandidatePublic), json={"reason": reason})


def transition(candidate_id: str, to_stage: str, reason: str = "", *,
               successor_id: str | None = None) -> Call[CandidatePublic]:
    """`successor_id`: rolling back a production candidate, who takes over (default: its standby)."""
    body = _given({"to_stage": to_stage, "reason": reason, "successor_id": successor_id})
    return Call("POST", f"/candidates/{candidate_id}/transition", _one(CandidatePublic), json=body)


def approve(candidate_id: str, comment: str = "") -> Call[ApprovalPublic]:
    return Call("POST", f"/candidates/{candidate_id}/approve", _one(ApprovalPublic), json={"comment": comment})


def history(candidate_id: str) -> Call[list[StageHistoryPublic]]:
    return Call("GET", f"/candidates/{candidate_id}/history", _many(StageHistoryPublic))


def scorecard(candidate_id: str) -> Call[Json]:
    return Call("GET", f"/candidates/{candidate_id}/scorecard", _json)


# ---- configuration searches -------------------------------------------------------------


def start_config_search(candidate_id: str, space: Mapping[str, Any], *, budget: Mapping[str, Any] | None = None,
                        submit_recommended: bool = False, run_id: str | None = None) -> Call[Json]:
    body = _given({"space": dict(space), "budget": budget, "submit_recommended": submit_recommended,
                   "run_id": run_id})
    return Call("POST", f"/candidates/{candidate_id}/config-search", _json, json=body)


def config_searches(candidate_id: str) -> Call[list[Json]]:
    return Call("GET", f"/candidates/{candidate_id}/config-searches", _json)


def config_search(run_id: str) -> Call[Json]:
    return Call("GET", f"/config-searches/{run_id}", _json)


# ---- datasets and prompts ---------------------------------------------------------------


def datasets(*, task: str | None = None, kind: str | None = None) -> Call[list[DatasetPublic]]:
    return Call("GET", "/datasets", _many(DatasetPublic), params={"task": task, "kind": kind})


def dataset(dataset_id: str) -> Call[DatasetPublic]:
    return Call("GET", f"/datasets/{dataset_id}", _one(DatasetPublic))


def dataset_items(dataset_id: str, limit: int | None = None) -> Call[list[Json]]:
    return Call("GET", f"/datasets/{dataset_id}/items", _json, params={"limit": limit})


def upload_dataset(task: str, items: bytes | Sequence[DatasetItem], *, kind: str = "golden",
                   name: str | None = None, labelled_by: str | None = None,
                   filename: str = "dataset.jsonl") -> Call[DatasetPublic]:
    """JSONL bytes, or items (written as JSONL); the registry validates every line."""
    content = items if isinstance(items, bytes) else "".join(
        json.dumps(i.model_dump(mode="json")) + "\n" for i in items).encode()
    form = _given({"task": task, "kind": kind, "name": name, "labelled_by": labelled_by})
    return Call("POST", "/datasets", _one(DatasetPublic), data=form,
                files={"file": (filename, content, "application/x-ndjson")})


def delete_dataset(dataset_id: str) -> Call[None]:
    return Call("DELETE", f"/datasets/{dataset_id}", _nothing)


def prompts(*, task: str | None = None) -> Call[list[PromptVersionPublic]]:
    return Call("GET", "/prompts", _many(PromptVersionPublic), params={"task": task})


def prompt(prompt_id: str) -> Call[PromptVersionPublic]:
    return Call("GET", f"/prompts/{prompt_id}", _one(PromptVersionPublic))


def create_prompt(task: str, label: str, template: str, **fields: Any) -> Call[PromptVersionPublic]:
    """`fields`: system_prompt, prompt_style, parent_id."""
    body = {"task": task, "label": label, "template": template, **_given(fields)}
    return Call("POST", "/prompts", _one(PromptVersionPublic), json=body)


# ---- tokens, samples, feedback, outbox ----------------------------------------------------


def create_token(name: str, role: str) -> Call[TokenCreated]:
    return Call("POST", "/tokens", _one(TokenCreated), json={"name": name, "role": role})


def tokens() -> Call[list[TokenPublic]]:
    return Call("GET", "/tokens", _many(TokenPublic))


def me() -> Call[TokenPublic]:
    return Call("GET", "/me", _one(TokenPublic))


def samples(*, candidate_id: str | None = None, route: str | None = None, degradation_id: str | None = None,
            limit: int | None = None) -> Call[list[Json]]:
    params = {"candidate_id": candidate_id, "route": route, "degradation_id": degradation_id, "limit": limit}
    return Call("GET", "/samples", _json, params=params)


def export_samples(format: str = "dpo", *, candidate_id: str | None = None,  # noqa: A002 (the API's name)
                   route: str | None = None) -> Call[str]:
    params = {"format": format, "candidate_id": candidate_id, "route": route}
    return Call("GET", "/samples/export", _text, params=params)


def label_sample(sample_id: int, chosen: str) -> Call[Json]:
    return Call("PATCH", f"/samples/{sample_id}", _json, json={"chosen": chosen})


def feedback(body: Mapping[str, Any]) -> Call[Json]:
    """A schemas.events.inference.FeedbackReceived as fields."""
    return Call("POST", "/feedback", _json, json=dict(body))


def labelling_jobs(*, task: str | None = None, status: str | None = None) -> Call[list[Json]]:
    return Call("GET", "/labelling/jobs", _json, params={"task": task, "status": status})


def labelling_job(job_id: str) -> Call[Json]:
    """{"job": ..., "samples": [...]}."""
    return Call("GET", f"/labelling/jobs/{job_id}", _json)


def label_queue(*, task: str | None = None, limit: int | None = None) -> Call[list[Json]]:
    """Captured samples waiting for a person's label, oldest first."""
    return Call("GET", "/labelling/queue", _json, params={"task": task, "limit": limit})


def label(sample_id: int, expected: Any = None, *, skip: bool = False) -> Call[Json]:
    """Label a queued sample (its item's `expected`), or skip it; 409 when it is no longer pending."""
    body = {"skip": True} if skip else {"expected": expected}
    return Call("POST", f"/labelling/samples/{sample_id}", _json, json=body)


def outbox() -> Call[Json]:
    return Call("GET", "/outbox", _json)


def consistency() -> Call[Json]:
    """The record against every gateway's routes: {"ok", "problems", "notes", "gateways"}."""
    return Call("GET", "/consistency", _json)
