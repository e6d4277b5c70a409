"""A typed client of the registry's REST API, blocking or asyncio:

    from challenger.client import Client

    with Client("http://127.0.0.1:8000", token="chl_...") as registry:
        task = registry.create_task("faq", metric="contains", prompt_template="Q: {input}\\nA:")
        print(registry.candidates(task="faq", stage="production"))

A refusal raises `ApiError` (a subclass per status: Invalid, NotFound, Forbidden, Conflict,
Unauthorized) carrying the registry's own message; no answer at all raises `Unreachable`."""

from challenger.client.calls import Call
from challenger.client.clients import AsyncClient, Client
from challenger.client.errors import (
    ApiError,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    RegistryError,
    Unauthorized,
    Unreachable,
)

__all__ = ["ApiError", "AsyncClient", "Call", "Client", "Conflict", "FieldError", "Forbidden", "Invalid", "NotFound",
           "RegistryError", "Unauthorized", "Unreachable"]
