"""API tokens: create (shown once), authenticate, and the bootstrap admin token."""

from __future__ import annotations

from sqlmodel import Session, select

from services.registry.adapters.models import ApiToken
from services.registry.domain.roles import Role
from services.registry.domain.tokens import hash_token, new_token


def create_token(*, session: Session, name: str, role: Role | str, created_by: str | None) -> tuple[ApiToken, str]:
    token = new_token()
    row = ApiToken(name=name, role=Role(role), token_hash=hash_token(token), created_by=created_by)
    session.add(row)
    return row, token


def authenticate(*, session: Session, token: str) -> ApiToken | None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    return None if row is None or row.revoked else row


def ensure_admin_token(session: Session) -> str | None:
    """Create an admin token only if no admin exists; return it (the only time it is visible)."""
    if session.exec(select(ApiToken.id).where(ApiToken.role == Role.admin)).first() is not None:
        return None
    _row, token = create_token(session=session, name="admin", role=Role.admin, created_by="bootstrap")
    session.commit()
    return token
