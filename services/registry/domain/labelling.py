"""Labelling jobs: a degradation's captured samples, once labelled, become items of the task's
`regression` dataset, with their provenance; their augmentations too. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.task import DatasetItem

PENDING, LABELLED, SKIPPED = "pending", "labelled", "skipped"
TEACHER, PEOPLE = "teacher", "people"
# labelling: sent to the monitor (teacher labels); awaiting_labels: in the people's queue;
# augmenting: all labelled, sent to the monitor for augmentations; done: a regression version made.
STATUSES = ("labelling", "awaiting_labels", "augmenting", "done")


def regression_name(task: str) -> str:
    return f"{task}-regression"


@dataclass(frozen=True)
class Provenance:
    """Where a captured sample came from: the degradation, its route, candidate and window."""

    degradation_id: str
    route: str
    candidate_id: str
    window_id: str | None = None
    window_start: str | None = None
    window_end: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Labelled:
    """A labelled captured sample as the registry holds it."""

    sample_id: int
    request_id: str
    prompt: str
    expected: Any
    labelled_by: str | None
    reason: str = ""


def item_id(sample_id: int, method: str | None = None) -> str:
    return f"captured-{sample_id}" + (f"~{method}" if method else "")


def regression_items(prov: Provenance, samples: Sequence[Labelled],
                     variants: Iterable[tuple[int, str, str]] = ()) -> list[DatasetItem]:
    """One item per labelled sample (input: the prompt that failed; expected: its label) and one
    per variant (origin sample id, method, prompt) of a labelled sample, which keeps that label."""
    meta = prov.as_metadata()
    by_id = {s.sample_id: s for s in samples}
    items = [DatasetItem(id=item_id(s.sample_id), input=s.prompt, expected=s.expected,
                         metadata={**meta, "sample_id": s.sample_id, "request_id": s.request_id,
                                   "captured_reason": s.reason, "labelled_by": s.labelled_by})
             for s in samples]
    for origin_id, method, prompt in variants:
        origin = by_id.get(origin_id)
        if origin is not None and prompt.strip():
            items.append(DatasetItem(id=item_id(origin_id, method), input=prompt, expected=origin.expected,
                                     metadata={**meta, "sample_id": origin_id, "request_id": origin.request_id,
                                               "captured_reason": origin.reason, "labelled_by": origin.labelled_by,
                                               "method": method, "origin_id": item_id(origin_id)}))
    return items


def merged(previous: Sequence[Mapping[str, Any]], new: Sequence[DatasetItem]) -> list[DatasetItem]:
    """The new items, then the previous version's (a new item replaces one of the same id). Newest
    first: an evaluation that caps items per dataset (`max_items`) keeps the latest failures."""
    fresh = {i.id for i in new}
    kept = [DatasetItem.model_validate(p) for p in previous if p.get("id") not in fresh]
    return list(new) + kept


def preferred(expected: Any, chosen: str | None, chosen_by: str | None) -> tuple[str | None, str | None]:
    """The preferred answer of a captured sample for SFT/DPO and where it comes from: a given
    `chosen` answer (the fallback's, or a person's), else the label when it is text."""
    if chosen and chosen.strip():
        return chosen, chosen_by or "operator"
    if isinstance(expected, str | int | float) and not isinstance(expected, bool) and str(expected).strip():
        return str(expected), "label"
    return None, None
