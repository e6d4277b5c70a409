"""Where the client finds the registry and its token: CHALLENGER_REGISTRY_URL and CHALLENGER_TOKEN,
else the bootstrap admin token the registry wrote to $CHALLENGER_HOME/admin-token (mode 600)."""

from __future__ import annotations

from pathlib import Path

from shared.settings import Settings


def token_path(home: Path) -> Path:
    return home / "admin-token"


def read_admin_token(home: Path) -> str | None:
    path = token_path(home)
    return (path.read_text().strip() or None) if path.exists() else None


def default_token(settings: Settings) -> str | None:
    return settings.token or read_admin_token(settings.home.resolve())
