"""The OpenAPI description of the proxied endpoints. They are served by the bare-ASGI hot
path (`asgi.py`), which FastAPI never sees, so they are declared here, from the same field
table the gateway checks bodies with (`domain/openai_body.py`): the document cannot promise
what the gateway refuses, nor hide what it checks."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from services.gateway.domain import openai_body as ob
from services.gateway.entrypoints.asgi import MAX_BODY, PROXY_PATHS

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"}, "code": {"type": "integer"}}}}}

_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}, {"type": "null"}]}
_MESSAGE = {"type": "object", "required": ["role"], "additionalProperties": True, "properties": {
    "role": {"type": "string", "minLength": 1, "description": "system, user, assistant, tool..."},
    "content": _CONTENT}}
_PROMPT = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}},
                     {"type": "array", "items": {"type": "integer"}}]}
_MODEL = {"type": "string", "minLength": 1, "description": "the route name (GET /v1/models lists them)"}


def _param_schema(param: ob.Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.json_type}
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    return {"anyOf": [schema, {"type": "null"}], "description": param.description}


def request_schema(kind: str) -> dict[str, Any]:
    own = ({"messages": {"type": "array", "minItems": 1, "items": _MESSAGE}} if kind == "chat"
           else {"prompt": _PROMPT})
    return {"type": "object", "required": ["model", *own], "additionalProperties": True,
            "description": "Forwarded upstream with `model` replaced by the chosen target's model; fields "
                           "not listed here pass through unchecked.",
            "properties": {"model": _MODEL, **own, **{name: _param_schema(p) for name, p in ob.params(kind).items()}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the upstream's answer: JSON, or server-sent events when `stream` is true (a stream "
                         "whose upstream dies after its first byte ends with an `error` event)",
          "content": {"application/json": {"schema": {"type": "object"}},
                      "text/event-stream": {"schema": {"type": "string"}}}},
    400: _error("invalid_request_error (which field, and why) or guardrail_blocked"),
    401: _error("authentication_error: missing or invalid API key"),
    429: {**_error("rate_limit_exceeded: the key's requests or tokens per minute are spent (`retry_after_s`)"),
          "headers": {"Retry-After": {"description": "seconds until the same request fits the limit",
                                      "schema": {"type": "integer"}}}},
    404: _error("route_not_found: `model` names no route (the known ones are listed)"),
    413: _error(f"request body over {MAX_BODY // (1024 * 1024)} MiB"),
    502: _error("upstream_answer_rejected: every target answered and the output guardrail rejected each answer "
                "(`attempts` says why)"),
    503: _error("upstream_unavailable: every target and fallback failed (`attempts` says why each did)"),
}

_AUTH = {"name": "authorization", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "`Bearer <key>`; required unless the gateway runs with CHALLENGER_GATEWAY_AUTH=off"}


def add_proxy_docs(app: FastAPI) -> None:
    """Declare the proxied endpoints. Their FastAPI handlers only answer while the proxy is
    not wired yet (before the lifespan has started)."""
    for path, kind in PROXY_PATHS.items():
        async def not_ready() -> None:
            raise HTTPException(503, "the gateway is still starting; retry in a moment")

        app.add_api_route(path, not_ready, methods=["POST"], tags=["openai"], responses=RESPONSES,
                          summary=f"OpenAI-compatible {'chat completion' if kind == 'chat' else 'text completion'}",
                          openapi_extra={"parameters": [_AUTH], "requestBody": {
                              "required": True, "content": {"application/json": {"schema": request_schema(kind)}}}})
