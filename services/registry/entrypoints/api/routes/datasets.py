"""/datasets: JSONL upload (every line validated), list, get, items, delete (refused once used)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from sqlmodel import col, select

from services.registry.adapters.models import Dataset, DatasetPublic
from services.registry.adapters.models.tasks import DatasetKind
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, HomeDep, SessionDep
from services.registry.handlers import catalog
from services.registry.handlers.lookup import get_or_404

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DatasetPublic)
def upload(session: SessionDep, user: CurrentUser, home: HomeDep, task: str = Form(...),
           name: str | None = Form(None, description="default TASK-KIND"), kind: DatasetKind = Form("golden"),
           labelled_by: str | None = Form(None, description="teacher candidate of a silver dataset"),
           file: UploadFile = File(..., description="JSONL, one schemas.task.DatasetItem per line")) -> Dataset:
    """Multipart form: the fields above plus the JSONL file."""
    require(user.role, Action.submit)
    dataset = catalog.upload_dataset(session=session, home=home, task_name=task, name=name or f"{task}-{kind}",
                                     kind=kind, data=file.file.read(), labelled_by=labelled_by)
    session.commit()
    return dataset


@router.get("", response_model=list[DatasetPublic])
def list_datasets(session: SessionDep, task: str | None = None, kind: DatasetKind | None = None) -> list[Dataset]:
    query = select(Dataset).order_by(col(Dataset.created_at))
    if task:
        query = query.where(Dataset.task == task)
    if kind:
        query = query.where(Dataset.kind == kind)
    return list(session.exec(query).all())


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(session: SessionDep, dataset_id: str) -> Dataset:
    return get_or_404(session, Dataset, dataset_id, "dataset")


@router.get("/{dataset_id}/items")
def get_items(session: SessionDep, dataset_id: str, limit: int = Query(1000, ge=1, le=100_000)) -> list[dict[str, Any]]:
    return catalog.dataset_items(get_or_404(session, Dataset, dataset_id, "dataset"))[:limit]


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(session: SessionDep, user: CurrentUser, dataset_id: str) -> None:
    require(user.role, Action.manage_tasks)
    catalog.delete_dataset(session=session, dataset_id=dataset_id)
    session.commit()
