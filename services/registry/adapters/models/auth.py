"""API tokens: only the sha256 of a token is stored."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from services.registry.adapters.models.columns import new_id, now
from services.registry.domain.roles import Role


class TokenBase(SQLModel):
    name: str = Field(min_length=1, max_length=120, description="who holds the token (the actor name)")
    role: str = Field(max_length=20)


class TokenCreate(TokenBase):
    role: Role


class ApiToken(TokenBase, table=True):
    __tablename__ = "api_token"

    id: str = Field(default_factory=lambda: new_id("tok"), primary_key=True, max_length=40)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_by: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=now)
    revoked: bool = False


class TokenPublic(TokenBase):
    id: str
    created_at: datetime
    revoked: bool


class TokenCreated(TokenPublic):
    token: str = Field(description="shown once; only its hash is stored")
