"""Captured samples by hand: load, augment, export, add to a regression suite. Library first:
the CLI, the samples_augmentation.requested handler and the labelling handler (labelling.py,
the event path that closes the loop with no manual step) call these."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from challenger.client import AsyncClient, RegistryError
from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.degradations import SamplesAugmentationRequested, SamplesAugmented
from services.monitor.adapters.models import answer, paraphrases
from services.monitor.adapters.store import safe
from services.monitor.domain.augment import Sample, augment
from services.monitor.domain.event_ids import stable
from services.monitor.domain.exports import regression_item, sample_of, sample_row
from services.registry.adapters.models import DatasetPublic
from shared.engines import EngineClient, client_for_spec

if TYPE_CHECKING:
    from services.monitor.handlers.monitor import Publish

log = logging.getLogger(__name__)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
    return rows


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


async def load_samples(*, registry: AsyncClient | None, candidate_id: str | None,
                       input_path: Path | None) -> list[Sample]:
    if input_path is not None:
        rows = read_jsonl(input_path)
    elif registry is not None:
        rows = await registry.samples(candidate_id=candidate_id)
    else:
        raise ValueError("give --input or a registry")
    return [sample_of(r) for r in rows if candidate_id is None or r.get("candidate_id") in (None, candidate_id)]


async def fill_chosen(samples: Sequence[Sample], client: EngineClient) -> list[Sample]:
    """Ask the fallback/champion model for the answer a sample is missing."""
    out = []
    for s in samples:
        chosen = s.chosen or await answer(client, s.prompt)
        out.append(replace(s, chosen=chosen))
    return out


async def augment_samples(samples: Sequence[Sample], methods: Sequence[str],
                          paraphraser: EngineClient | None, threshold: float = 0.95) -> tuple[list[Sample], int]:
    texts: dict[str, list[str]] = {}
    if "paraphrase" in methods and paraphraser is not None:
        texts = {s.id: await paraphrases(paraphraser, s.prompt) for s in samples}
    return augment(samples, methods, texts, threshold)


async def add_to_regression(registry: AsyncClient, task: str, samples: Sequence[Sample],
                            name: str | None = None) -> DatasetPublic:
    items = [regression_item(s) for s in samples]
    return await registry.upload_dataset(task, items, kind="regression", name=name or f"{task}-regression-captured")


class AugmentationHandler:
    """samples_augmentation.requested -> augmented JSONL under $CHALLENGER_HOME/monitor/augmented/
    -> samples.augmented (an operator's extra run; the event path's augmentations travel in
    samples.labelled and land in the task's regression dataset, see labelling.py).

    The kit's inbox skips a redelivered request (by event id). The JSONL is the run's result,
    not a dedup marker; a request for a run whose result exists (the same run id under another
    event id) stops there rather than redo the model calls."""

    def __init__(self, *, registry: AsyncClient, home: Path, publish: Publish) -> None:
        self.registry = registry
        self.root = home / "monitor" / "augmented"
        self.publish = publish

    async def handle(self, envelope: Envelope[Any]) -> None:
        req = envelope.data
        if not isinstance(req, SamplesAugmentationRequested):
            return
        path = self.root / f"{safe(req.run_id)}.jsonl"
        if path.exists():
            log.info("augmentation run %s already done (%s)", req.run_id, path)
            return
        samples = await load_samples(registry=self.registry, candidate_id=req.candidate_id, input_path=None)
        paraphraser = await self._paraphraser(req.paraphraser_candidate_id)
        try:
            kept, removed = await augment_samples(samples, req.methods, paraphraser)
        finally:
            await paraphraser.aclose() if paraphraser else None
        write_jsonl(path, [sample_row(s) for s in kept])
        done = SamplesAugmented(run_id=req.run_id, candidate_id=req.candidate_id, created=len(kept),
                                removed_duplicates=removed)
        await self.publish(stable(new_event(done, source="challenger/monitor", cause=envelope), req.run_id))

    async def _paraphraser(self, candidate_id: str | None) -> EngineClient | None:
        if candidate_id is None:
            return None
        try:
            return client_for_spec(CandidateSpec.model_validate((await self.registry.candidate(candidate_id)).spec))
        except RegistryError as exc:
            log.warning("no paraphraser %s: %s; paraphrases skipped", candidate_id, exc)
            return None
