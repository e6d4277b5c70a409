"""Domain errors -> HTTP: one status per error class, one body shape for every 422."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from services.registry.domain.errors import Conflict, Forbidden, NotFound
from services.registry.domain.validation import FieldError, Invalid
from shared.pipeline import IllegalTransition

STATUS: dict[type[Exception], int] = {NotFound: 404, Forbidden: 403, Conflict: 409, IllegalTransition: 409}


def _message(status_code: int):  # type: ignore[no-untyped-def]
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_code)

    return handle


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Invalid)
    return JSONResponse({"detail": [e.as_dict() for e in exc.errors]}, status_code=422)


async def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()]
    return JSONResponse({"detail": [e.as_dict() for e in errors]}, status_code=422)


async def _refused_by_database(_request: Request, exc: Exception) -> JSONResponse:
    """A constraint the database enforces (e.g. one production candidate per task) caught a
    change that raced another one: the state moved meanwhile; the caller may look and retry."""
    assert isinstance(exc, IntegrityError)
    return JSONResponse({"detail": f"the database refused the change, which conflicts with the current state "
                                   f"(changed meanwhile?): {exc.orig}"}, status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    for exc_class, status_code in STATUS.items():
        app.add_exception_handler(exc_class, _message(status_code))
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(IntegrityError, _refused_by_database)
