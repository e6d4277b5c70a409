"""Which prompt style to optimize in. A base model asked to chat (Gemma-3-270M, say) answers
with nothing or with a continuation of the question, never with the task's answer; its useful
prompts are plain completions (few-shot), so the search switches style."""

from __future__ import annotations

from collections.abc import Sequence

PROBE_ITEMS = 6


def style_for(current: str, probe_scores: Sequence[float]) -> str:
    """`completion` when the current chat prompt scored nothing on every probed item."""
    if current == "chat" and len(probe_scores) >= 2 and not any(probe_scores):
        return "completion"
    return current
