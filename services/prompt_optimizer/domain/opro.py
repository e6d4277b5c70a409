"""OPRO-style meta-prompt (Yang et al., 2023): the task, a few examples and the history of
(instruction, score) sorted ascending, so the best instructions sit closest to the request."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.prompt_optimizer.domain.variants import Demo

MAX_INSTRUCTION_CHARS = 400


def meta_prompt(task_description: str, history: Sequence[tuple[str, float]], examples: Sequence[Demo],
                history_size: int = 8) -> str:
    shown = sorted(history, key=lambda h: h[1])[-history_size:]
    lines = [f"Task: {task_description.strip()}", "",
             "Here are instructions a model was given for this task, with their scores (0-100), "
             "from worst to best:", ""]
    for text, score in shown:
        lines += [f"Instruction: {text.strip()}", f"Score: {round(score * 100)}", ""]
    lines += ["Examples of the task:", ""]
    for demo in examples:
        lines += [f"Input: {demo.input}", f"Answer: {demo.answer}", ""]
    lines.append("Write one new instruction that is different from the ones above and gets a higher score. "
                 "Reply with the instruction only, in one or two sentences.")
    return "\n".join(lines)


def parse_instruction(reply: str) -> str | None:
    """The first line that reads like an instruction: labels, quotes and lead-ins ("Here is a
    new instruction:") dropped; None when nothing usable (small models chat a lot)."""
    for line in reply.splitlines():
        text = re.sub(r"^\s*(new\s+)?instruction\s*\d*\s*[:\-]\s*", "", line, flags=re.IGNORECASE)
        text = text.strip().strip("\"'`*").strip()
        if re.match(r"(score|input|answer)\s*:", text, re.IGNORECASE) or text.endswith(":"):
            continue
        if len(text.split()) >= 3:
            return text[:MAX_INSTRUCTION_CHARS]
    return None


def normalized(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))
