"""The prompt of a load-test request: built the way production builds it, sized to a token target.

Production turns an input into a request in two declared steps: the candidate's pre-processing
and the task's template, system prompt and chat/completion style, both through
`shared.scoring.prompting` (the code the evaluator and the gateway build their prompts with).
The load tester runs the same two on a synthetic input. Both add tokens, and so does the
server's chat template, so the synthetic input is sized by a linear fit of the prompt tokens
the server counts against the filler words sent (`Sizing`: measured on the server by a
calibration probe, or estimated when it reports no usage).
Pure: no I/O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from schemas.candidate import ProcessingStep
from schemas.task import TaskSpec
from services.loadtester.domain.profiles import prompt_of
from shared.scoring.prompting import chat_messages, completion_prompt, prepared_input

Content = str | list[dict[str, Any]]  # a completion prompt, or chat messages
CALIBRATION_WORDS = (26, 78)  # whole cycles of the filler vocabulary, so the slope is its mean
_ROUGH_TOKEN = re.compile(r"\w+|[^\w\s]")


def _field_names(template: str) -> set[str]:
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()  # bad braces: rendering reports it with the template's own error


@dataclass(frozen=True)
class PromptShape:
    """What production wraps around an input. Empty: the input is the whole user message."""

    preprocess: tuple[ProcessingStep, ...] = ()
    task: TaskSpec | None = None

    @property
    def plain(self) -> bool:
        return not self.preprocess and self.task is None

    @property
    def style(self) -> str:
        return self.task.prompt_style if self.task is not None else "chat"

    @cached_property
    def _fillers(self) -> dict[str, object]:
        """Item fields the templates name besides `input`/`id`: empty, as a synthetic item has none."""
        templates = [str(s.args.get("template", "")) for s in self.preprocess if s.op == "template"]
        if self.task is not None:
            templates.append(self.task.prompt_template)
        return {n: "" for t in templates for n in _field_names(t) if n not in ("input", "id")}

    def render(self, text: str, i: int = 0) -> Content:
        """The prompt or messages production would send for input `text` (item id `load-<i>`).
        Raises ProcessingError / PromptError when a declared step or template cannot apply."""
        if self.plain:
            return text
        fields, what = {**self._fillers, "id": f"load-{i}"}, f"load-test input {i}"
        value = prepared_input(self.preprocess, text, fields)
        prompt = self.task or _BARE
        if prompt.prompt_style == "chat":
            return chat_messages(prompt, value, fields, what)
        return completion_prompt(prompt, value, fields, what)


_BARE = TaskSpec(name="load")  # the input alone, as one user message


def flatten(content: Content) -> str:
    """Messages as one completion prompt (system first, blank line between): for a
    completion-only protocol given a chat-style shape."""
    return content if isinstance(content, str) else "\n\n".join(m.get("content", "") for m in content)


def rough_tokens(content: Content) -> int:
    """Words and punctuation marks: a tokenizer-free estimate, used only without server usage."""
    return len(_ROUGH_TOKEN.findall(flatten(content)))


@dataclass(frozen=True)
class Sizing:
    """prompt tokens = overhead_tokens + tokens_per_word x filler words."""

    tokens_per_word: float = 1.0
    overhead_tokens: float = 0.0
    measured: bool = False  # True: fitted on the server's own prompt-token counts

    def words_for(self, target_tokens: int) -> int:
        return max(1, round((target_tokens - self.overhead_tokens) / self.tokens_per_word))

    def tokens_for(self, words: int) -> int:
        return round(self.overhead_tokens + self.tokens_per_word * words)


def fit(points: Sequence[tuple[int, int]]) -> Sizing | None:
    """Least-squares line through (filler words, prompt tokens); None without two distinct
    word counts or with a non-increasing count."""
    xs = [float(w) for w, _ in points]
    if len(set(xs)) < 2:
        return None
    ys = [float(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    if slope <= 0:
        return None
    return Sizing(slope, my - slope * mx, True)


def estimate(shape: PromptShape) -> Sizing:
    """One token per filler word plus the rough token count of what the shape adds."""
    words = CALIBRATION_WORDS[0]
    overhead = rough_tokens(shape.render(prompt_of(words))) - words
    return Sizing(1.0, float(max(0, overhead)), False)


def synthetic(shape: PromptShape, sizing: Sizing, target_tokens: int, salt: int) -> tuple[Content, int]:
    """Request content whose prompt should count `target_tokens`, and the tokens it is expected
    to count (differs from the target when the shape alone is longer)."""
    words = sizing.words_for(target_tokens)
    return shape.render(prompt_of(words, salt=salt), salt), sizing.tokens_for(words)
