"""Captured samples as training data: SFT (prompt -> preferred answer) and DPO (prompt, chosen,
rejected) JSONL lines. The preferred answer is a given one (the fallback's, a person's) or the
sample's label (domain/labelling.preferred); a sample with neither cannot train either."""

from __future__ import annotations

from typing import Any, Literal

ExportFormat = Literal["sft", "dpo"]


def export_line(fmt: ExportFormat, *, prompt: str, response: str, chosen: str | None,
                chosen_from: str | None = None) -> dict[str, Any] | None:
    """One JSONL row; `metadata.chosen_from` says where the preferred answer came from (label, fallback, person)."""
    if chosen is None or chosen.strip() == response.strip():
        return None
    meta = {"metadata": {"chosen_from": chosen_from}} if chosen_from else {}
    if fmt == "sft":
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": chosen}], **meta}
    return {"prompt": prompt, "chosen": chosen, "rejected": response, **meta}
