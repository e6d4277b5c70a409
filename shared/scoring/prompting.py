"""How a task item becomes a model request: the task's template and style, the item's input,
the candidate's decoding. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from schemas.candidate import Decoding
from schemas.task import DatasetItem, TaskSpec
from shared.engines.base import GenerationRequest


class PromptError(ValueError):
    """The task's template does not fit the item (a missing field, bad braces)."""


def template_fields(item: DatasetItem) -> dict[str, Any]:
    """Fields a template may use: `input`, `id` and the item's metadata (never `expected`)."""
    return {**item.metadata, "id": item.id, "input": item.input}


def render(template: str, item: DatasetItem) -> str:
    try:
        return template.format(**template_fields(item))
    except KeyError as exc:
        raise PromptError(f"item {item.id}: template field {exc} is not in the item") from exc
    except (IndexError, ValueError) as exc:
        raise PromptError(f"item {item.id}: template does not format: {exc}") from exc


def _messages(task: TaskSpec, item: DatasetItem) -> list[dict[str, str]]:
    if isinstance(item.input, list):
        messages = [dict(m) for m in item.input]
    else:
        messages = [{"role": "user", "content": render(task.prompt_template, item)}]
    if task.system_prompt and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": task.system_prompt})
    return messages


def _prompt(task: TaskSpec, item: DatasetItem) -> str:
    if isinstance(item.input, list):
        body = "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in item.input)
    else:
        body = render(task.prompt_template, item)
    return f"{task.system_prompt}\n\n{body}" if task.system_prompt else body


def build_request(task: TaskSpec, item: DatasetItem, decoding: Decoding, *,
                  temperature: float | None = None, seed: int | None = None) -> GenerationRequest:
    """Chat or completion per `task.prompt_style`; `temperature`/`seed` override the decoding
    (stability repeats)."""
    sampling = dict(temperature=decoding.temperature if temperature is None else temperature,
                    top_p=decoding.top_p, max_tokens=decoding.max_tokens,
                    seed=decoding.seed if seed is None else seed, stop=list(decoding.stop))
    if task.prompt_style == "chat":
        return GenerationRequest(messages=_messages(task, item), **sampling)
    return GenerationRequest(prompt=_prompt(task, item), **sampling)
