"""/tokens (admin only) and /me."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import select

from services.registry.adapters.models import ApiToken, TokenCreate, TokenCreated, TokenPublic
from services.registry.domain.roles import Action, require
from services.registry.entrypoints.api.deps import CurrentUser, SessionDep
from services.registry.handlers.tokens import create_token

router = APIRouter(tags=["auth"])


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
def create(session: SessionDep, user: CurrentUser, token_in: TokenCreate) -> TokenCreated:
    require(user.role, Action.manage_tokens)
    row, token = create_token(session=session, name=token_in.name, role=token_in.role, created_by=user.name)
    session.commit()
    return TokenCreated.model_validate(row, update={"token": token})


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, user: CurrentUser) -> list[ApiToken]:
    require(user.role, Action.manage_tokens)
    return list(session.exec(select(ApiToken)).all())


@router.get("/me", response_model=TokenPublic)
def me(user: CurrentUser) -> ApiToken:
    return user
