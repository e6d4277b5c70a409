"""Captured samples as training data: SFT and DPO JSONL rows, and regression dataset items. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from schemas.task import DatasetItem
from services.monitor.domain.augment import Sample

FORMATS = ("sft", "dpo")
ID_KEYS = ("id", "request_id", "sample_id")
PROVENANCE = ("route", "candidate_id", "prompt_version", "captured_at", "reason", "method", "origin_id", "label",
              "chosen_by")


def sample_of(row: Mapping[str, Any]) -> Sample:
    """A sample from the registry's REST row (or a JSONL line we wrote); unknown keys go to `extra`."""
    known = set(Sample.__dataclass_fields__) - {"extra", "id"}
    id_key = next((k for k in ID_KEYS if row.get(k)), "id")
    sid = str(row.get(id_key) or "")
    if not sid or not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
        raise ValueError(f"a sample needs an id, a prompt and a response; got keys {sorted(row)}")
    fields = {k: (v if k == "chosen" else str(v)) for k, v in row.items() if k in known and v is not None}
    extra = {k: str(v) for k, v in row.items() if k not in known and k not in (id_key, "id", "extra") and v is not None}
    if "captured_at" not in fields and row.get("at") is not None:  # the registry's column name
        fields["captured_at"] = str(row["at"])
        extra.pop("at", None)
    if not fields.get("chosen") and (label := text_label(row.get("expected"))) is not None:
        fields["chosen"], fields["chosen_by"] = label, "label"  # a labelled sample's label is its preferred answer
    return Sample(id=sid, **fields, extra={**extra, **dict(row.get("extra") or {})})


def text_label(expected: Any) -> str | None:
    """A label that can be an assistant's answer (text or a number), else None."""
    if isinstance(expected, str | int | float) and not isinstance(expected, bool) and str(expected).strip():
        return str(expected)
    return None


def sources(samples: Sequence[Sample]) -> dict[str, int]:
    """How many preferred answers came from where (label, fallback ..., operator, given)."""
    out: dict[str, int] = {}
    for s in samples:
        if s.chosen:
            key = (s.chosen_by or "given").split(" ")[0]
            out[key] = out.get(key, 0) + 1
    return out


def provenance(s: Sample) -> dict[str, Any]:
    return {"sample_id": s.id, **{k: getattr(s, k) for k in PROVENANCE if getattr(s, k) is not None}}


def sft_row(s: Sample) -> dict[str, Any]:
    """The preferred answer as the assistant turn (a failing answer is never an SFT target)."""
    assert s.chosen is not None
    return {"messages": [{"role": "user", "content": s.prompt}, {"role": "assistant", "content": s.chosen}],
            "metadata": provenance(s)}


def dpo_row(s: Sample) -> dict[str, Any]:
    assert s.chosen is not None
    return {"prompt": s.prompt, "chosen": s.chosen, "rejected": s.response, "metadata": provenance(s)}


def export_rows(samples: Sequence[Sample], fmt: str) -> tuple[list[dict[str, Any]], int]:
    """(rows, skipped): samples without a preferred answer cannot become training rows."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    row = sft_row if fmt == "sft" else dpo_row
    usable = [s for s in samples if s.chosen and s.chosen.strip() and s.chosen.strip() != s.response.strip()]
    return [row(s) for s in usable], len(samples) - len(usable)


def regression_item(s: Sample) -> DatasetItem:
    """A regression test: the input that failed; the preferred answer as expected when known."""
    meta = {**provenance(s), "rejected_response": s.response}
    return DatasetItem(id=s.id[:200], input=s.prompt, expected=s.chosen, metadata=meta)


def sample_row(s: Sample) -> dict[str, Any]:
    return {k: v for k, v in asdict(s).items() if v not in (None, {})}
