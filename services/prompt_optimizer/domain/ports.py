"""The interfaces the domain calls; adapters implement them over real engines, tests script them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from schemas.task import DatasetItem


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


# The model under optimization answers one item with a prompt template (str.format over the item).
Target = Callable[[str, DatasetItem], Awaitable[Reply]]
# The optimizer model answers one meta-prompt; `call_index` lets the adapter vary its sampling seed.
Proposer = Callable[[str, int], Awaitable[Reply]]
# Score one post-processed output against the item's expected value (0..1).
Scorer = Callable[[str, DatasetItem], float]
# Post-processing of raw model text (the candidate's declared steps).
Post = Callable[[str], str]
