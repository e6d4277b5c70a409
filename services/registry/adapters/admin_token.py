"""The bootstrap admin token's file: $CHALLENGER_HOME/admin-token (mode 600), written once when the
registry creates the first admin, so the stack launcher can print it and the CLI can use it."""

from __future__ import annotations

from pathlib import Path

from shared.settings import Settings


def admin_token_path(settings: Settings) -> Path:
    return settings.home / "admin-token"


def write_admin_token(settings: Settings, token: str) -> None:
    path = admin_token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token + "\n")
