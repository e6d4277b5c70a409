"""/prompts: immutable, labelled prompt versions (create, list, get; no update)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import col, select

from services.registry.adapters.models import PromptVersion, PromptVersionCreate, PromptVersionPublic
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep
from services.registry.handlers import catalog
from services.registry.handlers.lookup import get_or_404

router = APIRouter(prefix="/prompts", tags=["prompts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PromptVersionPublic)
def create(session: SessionDep, user: CurrentUser, prompt_in: PromptVersionCreate) -> PromptVersion:
    require(user.role, Action.submit)
    prompt = catalog.create_prompt_version(session=session, prompt_in=prompt_in, created_by=user.name)
    session.commit()
    return prompt


@router.get("", response_model=list[PromptVersionPublic])
def list_prompts(session: SessionDep, task: str | None = None) -> list[PromptVersion]:
    query = select(PromptVersion).order_by(col(PromptVersion.created_at))
    if task:
        query = query.where(PromptVersion.task == task)
    return list(session.exec(query).all())


@router.get("/{prompt_id}", response_model=PromptVersionPublic)
def get_prompt(session: SessionDep, prompt_id: str) -> PromptVersion:
    return get_or_404(session, PromptVersion, prompt_id, "prompt version")
