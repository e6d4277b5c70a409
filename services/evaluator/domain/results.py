"""One model answer, scored: the unit of the per-item results and of resumption."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["accuracy", "stability", "security", "e2e"]
Role = Literal["candidate", "champion"]
Key = tuple[str, str, str, str, int]


@dataclass(frozen=True)
class ItemResult:
    kind: Kind
    role: Role
    dataset: str
    item_id: str
    repeat: int = 0
    output: str = ""
    score: float | None = None
    error: str | None = None
    judge: str | None = None
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    category: str | None = None
    attack_succeeded: bool | None = None

    @property
    def key(self) -> Key:
        return result_key(self.kind, self.role, self.dataset, self.item_id, self.repeat)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat fields only: much cheaper than dataclasses.asdict

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemResult:
        return cls(**data)


def result_key(kind: str, role: str, dataset: str, item_id: str, repeat: int = 0) -> Key:
    return (kind, role, dataset, item_id, repeat)


def select(results: list[ItemResult], kind: str, role: str, dataset: str | None = None) -> list[ItemResult]:
    return [r for r in results if r.kind == kind and r.role == role and (dataset is None or r.dataset == dataset)]
