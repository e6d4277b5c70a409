"""/tasks: create, list, get, update, the task spec as events carry it, and its champion."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel
from sqlmodel import select

from schemas.task import TaskSpec
from services.registry.adapters.models import Task, TaskCreate, TaskPublic, TaskUpdate
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep
from services.registry.handlers import catalog
from services.registry.handlers.lookup import get_or_404

router = APIRouter(prefix="/tasks", tags=["tasks"])


class ChampionIn(BaseModel):
    candidate_id: str


@router.get("", response_model=list[TaskPublic])
def list_tasks(session: SessionDep) -> list[Task]:
    return list(session.exec(select(Task).order_by(Task.name)).all())


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic)
def create_task(session: SessionDep, user: CurrentUser, task_in: TaskCreate) -> Task:
    require(user.role, Action.manage_tasks)
    return _committed(session, catalog.create_task(session=session, task_in=task_in))


@router.get("/{name}", response_model=TaskPublic)
def get_task(session: SessionDep, name: str) -> Task:
    return get_or_404(session, Task, name, "task")


@router.patch("/{name}", response_model=TaskPublic)
def update_task(session: SessionDep, user: CurrentUser, name: str, task_in: TaskUpdate) -> Task:
    require(user.role, Action.manage_tasks)
    return _committed(session, catalog.update_task(session=session, name=name, task_in=task_in))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_task(session: SessionDep, user: CurrentUser, name: str) -> None:
    require(user.role, Action.manage_tasks)
    catalog.delete_task(session=session, name=name)
    session.commit()


@router.get("/{name}/spec", response_model=TaskSpec)
def get_task_spec(session: SessionDep, name: str) -> TaskSpec:
    return catalog.task_spec(session, get_or_404(session, Task, name, "task"))


@router.put("/{name}/champion", response_model=TaskPublic)
def set_champion(session: SessionDep, user: CurrentUser, name: str, body: ChampionIn) -> Task:
    require(user.role, Action.operate)
    task = catalog.set_champion(session=session, task_name=name, candidate_id=body.candidate_id, actor=user.name)
    return _committed(session, task)


def _committed(session: SessionDep, task: Task) -> Task:
    session.commit()
    return task
