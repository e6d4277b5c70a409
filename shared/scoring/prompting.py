"""How an input becomes a model request: the prompt's template and style, the candidate's
pre-processing and decoding. The evaluator (task items) and the gateway (client requests)
both build their prompts here, so a candidate is served exactly as it was evaluated. Pure: no I/O.

An input is text (rendered through the template, after the pre-processing steps) or a list
of chat messages (sent as they are; the system prompt is added when none is there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from schemas.candidate import Decoding, ProcessingStep
from schemas.task import DatasetItem, TaskSpec
from shared.engines.types import GenerationRequest
from shared.processing import preprocess

Input = str | list[dict[str, Any]]


class Prompt(Protocol):
    """What a prompt declares: `TaskSpec` (resolved with its prompt version) and the gateway's
    `ServingProfile` both have these fields."""

    prompt_template: str
    prompt_style: Literal["chat", "completion"]
    system_prompt: str | None


class PromptError(ValueError):
    """The task's template does not fit the item (a missing field, bad braces)."""


def template_fields(item: DatasetItem) -> dict[str, Any]:
    """Fields a template may use: `input`, `id` and the item's metadata (never `expected`)."""
    return {**item.metadata, "id": item.id, "input": item.input}


def fill(template: str, fields: Mapping[str, Any], what: str) -> str:
    """`template` filled from `fields`; `what` names the input in the error."""
    try:
        return template.format(**fields)
    except KeyError as exc:
        raise PromptError(f"{what}: template field {exc} is not among the fields {sorted(fields)}") from exc
    except (IndexError, ValueError) as exc:
        raise PromptError(f"{what}: template does not format: {exc}") from exc


def render(template: str, item: DatasetItem) -> str:
    return fill(template, template_fields(item), f"item {item.id}")


def prepared_input(steps: Sequence[ProcessingStep], value: Input, fields: Mapping[str, Any]) -> Input:
    """The input after the declared pre-processing (text only; chat messages are left alone)."""
    if not steps or not isinstance(value, str):
        return value
    return preprocess(steps, value, fields)


def chat_messages(prompt: Prompt, value: Input, fields: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    if isinstance(value, list):
        messages = [dict(m) for m in value]
    else:
        messages = [{"role": "user", "content": fill(prompt.prompt_template, {**fields, "input": value}, what)}]
    if prompt.system_prompt and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": prompt.system_prompt})
    return messages


def completion_prompt(prompt: Prompt, value: Input, fields: Mapping[str, Any], what: str) -> str:
    if isinstance(value, list):
        body = "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in value)
    else:
        body = fill(prompt.prompt_template, {**fields, "input": value}, what)
    return f"{prompt.system_prompt}\n\n{body}" if prompt.system_prompt else body


def prepared_item(steps: Sequence[ProcessingStep], item: DatasetItem) -> DatasetItem:
    """Apply a candidate's declared pre-processing to an item's text input."""
    value = prepared_input(steps, item.input, {**item.metadata, "id": item.id})
    return item if value is item.input else item.model_copy(update={"input": value})


def build_request(task: TaskSpec, item: DatasetItem, decoding: Decoding, *,
                  temperature: float | None = None, seed: int | None = None) -> GenerationRequest:
    """Chat or completion per `task.prompt_style`; `temperature`/`seed` override the decoding
    (stability repeats)."""
    sampling = dict(temperature=decoding.temperature if temperature is None else temperature,
                    top_p=decoding.top_p, max_tokens=decoding.max_tokens,
                    seed=decoding.seed if seed is None else seed, stop=list(decoding.stop))
    fields, what = template_fields(item), f"item {item.id}"
    if task.prompt_style == "chat":
        return GenerationRequest(messages=chat_messages(task, item.input, fields, what), **sampling)
    return GenerationRequest(prompt=completion_prompt(task, item.input, fields, what), **sampling)
