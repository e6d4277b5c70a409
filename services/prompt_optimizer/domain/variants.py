"""Prompt variants: an instruction plus few-shot demonstrations, rendered as a str.format
template over the item (`{input}`). Completion-style layout, so base models continue it:

    <instruction>

    Input: <demo input>
    Answer: <demo answer>

    Input: {input}
    Answer:
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from schemas.task import DatasetItem


@dataclass(frozen=True)
class Layout:
    input_label: str = "Input"
    answer_label: str = "Answer"


@dataclass(frozen=True)
class Demo:
    input: str
    answer: str


@dataclass(frozen=True)
class PromptVariant:
    id: str
    instruction: str
    demos: tuple[Demo, ...] = ()
    origin: str = "baseline"
    round: int = 0
    fixed_template: str | None = None  # the current prompt is kept verbatim

    def template(self, layout: Layout) -> str:
        if self.fixed_template is not None:
            return self.fixed_template
        blocks = [_escape(self.instruction.strip())] if self.instruction.strip() else []
        blocks += [f"{layout.input_label}: {_escape(d.input)}\n{layout.answer_label}: {_escape(d.answer)}"
                   for d in self.demos]
        blocks.append(f"{layout.input_label}: {{input}}\n{layout.answer_label}:")
        return "\n\n".join(blocks)


def baseline_variant(template: str) -> PromptVariant:
    return PromptVariant("v0", instruction=instruction_of(template), fixed_template=template)


def instruction_of(template: str) -> str:
    """The instruction text of a template: the template without its `{input}` slot."""
    text = re.sub(r"(?m)^[A-Za-z]+( [A-Za-z]+)?:[ \t]*\{input\}[ \t]*$", "", template).replace("{input}", "")
    return re.sub(r"\n{3,}", "\n\n", text).replace("{{", "{").replace("}}", "}").strip()


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def item_text(item: DatasetItem) -> str:
    if isinstance(item.input, str):
        return item.input
    return "\n".join(m.get("content", "") for m in item.input)


def answer_text(item: DatasetItem) -> str:
    value = item.expected
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
