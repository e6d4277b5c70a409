"""What the client raises: the registry could not be reached, or it answered with an error in its
own words (one subclass per status the registry uses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RegistryError(Exception):
    """Anything that kept a call from returning the registry's answer."""


class Unreachable(RegistryError):
    def __init__(self, url: str, cause: Exception) -> None:
        super().__init__(f"cannot reach the registry at {url}: {cause}")
        self.url = url


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class ApiError(RegistryError):
    """The registry refused: `status` and its message (`detail`), and for a 422 every field it named."""

    def __init__(self, status: int, detail: str, errors: list[FieldError], method: str, path: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail, self.errors = status, detail, errors
        self.method, self.path = method, path


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class Invalid(ApiError):
    pass


BY_STATUS: dict[int, type[ApiError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
                                        422: Invalid}


def api_error(status: int, body: Any, text: str, method: str, path: str) -> ApiError:
    """The registry's error body is {"detail": message} or {"detail": [{field, reason}, ...]}."""
    detail = body.get("detail", text) if isinstance(body, dict) else text
    errors = [FieldError(str(e.get("field")), str(e.get("reason"))) for e in detail
              if isinstance(e, dict)] if isinstance(detail, list) else []
    message = "; ".join(f"{e.field}: {e.reason}" for e in errors) if errors else str(detail)
    return BY_STATUS.get(status, ApiError)(status, message, errors, method, path)
