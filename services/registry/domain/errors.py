"""Domain errors; the API maps each to one HTTP status (see api/errors.py)."""

from __future__ import annotations


class NotFound(LookupError):
    """404: the named thing does not exist."""


class Conflict(Exception):
    """409: the request is valid but the current state does not allow it."""


class Forbidden(Exception):
    """403: the caller is known but may not do this; the message says why."""
