"""Request bodies given as JSON or YAML (a candidate file is usually YAML)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import yaml
from fastapi import Request
from pydantic import BaseModel, ValidationError

from services.registry.domain.validation import FieldError, Invalid, field_errors

M = TypeVar("M", bound=BaseModel)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = _load(raw, request.headers.get("content-type", "application/json"))
    except ValueError as exc:
        raise Invalid([FieldError("body", str(exc))]) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc)) from exc


def _load(raw: bytes, content_type: str) -> Any:
    if any(t in content_type for t in YAML_TYPES):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {exc}") from exc
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra for a route that reads its body itself (JSON or YAML)."""
    schema = {"type": "object", "title": model.__name__,
              "description": f"{model.__name__} as JSON or YAML (see schemas/json/)"}
    content = {t: {"schema": schema} for t in ("application/json", "application/yaml")}
    return {"requestBody": {"required": True, "content": content}}
