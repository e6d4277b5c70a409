"""The bootstrap admin token. The registry creates it on its first start and writes it to
$CHALLENGER_HOME/admin-token (mode 600); the CLI only reads it from there."""

from __future__ import annotations

from pathlib import Path


def token_path(home: Path) -> Path:
    return home / "admin-token"


def read_admin_token(home: Path) -> str | None:
    path = token_path(home)
    return (path.read_text().strip() or None) if path.exists() else None
