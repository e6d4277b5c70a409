"""Which prompt style to optimize in. A base model asked to chat (Gemma-3-270M, say) answers
nothing at all; its useful prompts are plain completions, so the search switches style."""

from __future__ import annotations

from collections.abc import Sequence

PROBE_ITEMS = 4


def style_for(current: str, probe_answers: Sequence[str]) -> str:
    """`completion` when every probed chat answer came back empty, else the current style."""
    if current == "chat" and probe_answers and all(not a.strip() for a in probe_answers):
        return "completion"
    return current
