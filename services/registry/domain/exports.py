"""Captured samples as training data: SFT (prompt -> preferred answer) and DPO (prompt, chosen,
rejected) JSONL lines. A sample without a preferred (`chosen`) answer cannot train either."""

from __future__ import annotations

from typing import Any, Literal

ExportFormat = Literal["sft", "dpo"]


def export_line(fmt: ExportFormat, *, prompt: str, response: str, chosen: str | None) -> dict[str, Any] | None:
    if chosen is None:
        return None
    if fmt == "sft":
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": chosen}]}
    return {"prompt": prompt, "chosen": chosen, "rejected": response}
