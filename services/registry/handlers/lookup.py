"""Fetch-or-404 helpers for the registry's entities."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, SQLModel

from services.registry.domain.errors import NotFound

T = TypeVar("T", bound=SQLModel)


def get_or_404(session: Session, model: type[T], key: str, what: str) -> T:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key!r} not found")
    return row
