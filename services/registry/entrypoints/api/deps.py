"""Request-scoped dependencies: the running service, a DB session, and the caller behind the
bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlmodel import Session

from services.registry.adapters.models import ApiToken
from services.registry.bootstrap import RegistryService
from services.registry.domain.tokens import bearer
from services.registry.handlers.tokens import authenticate


def registry_of(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.service
    return service


RegistryDep = Annotated[RegistryService, Depends(registry_of)]


def get_session(registry: RegistryDep) -> Iterator[Session]:
    # Objects stay readable after commit: a route returns what it wrote without a re-SELECT.
    with Session(registry.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_home(registry: RegistryDep) -> Path:
    return Path(registry.settings.home)


HomeDep = Annotated[Path, Depends(get_home)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def get_current_user(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> ApiToken:
    token = bearer(authorization)
    if token is None:
        raise _unauthorized("writes need a token: send 'Authorization: Bearer <token>' "
                            "(an admin creates one with `challenger token create --role ROLE`)")
    user = authenticate(session=session, token=token)
    if user is None:
        raise _unauthorized("unknown or revoked token")
    return user


CurrentUser = Annotated[ApiToken, Depends(get_current_user)]
