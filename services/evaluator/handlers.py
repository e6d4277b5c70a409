"""evaluation.requested -> evaluation.completed | evaluation.failed.

Idempotent by evaluation_id: a request whose result exists republishes that result; a request
interrupted mid-run resumes from the per-item checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from schemas.envelope import Envelope, new_event
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed, EvaluationRequested
from services.evaluator.adapters.datasets import load_attacks, load_task_datasets
from services.evaluator.adapters.garak_runner import GarakRunner
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.redteam import AttackError
from services.evaluator.evaluation import Engines, EvaluationFailure, engines_for, evaluate
from shared.blobs import BlobError
from shared.bus.producer import EventProducer
from shared.datasets import DatasetError
from shared.processing import ProcessingError
from shared.scoring.prompting import PromptError

log = logging.getLogger(__name__)
SOURCE = "challenger/evaluator"
OUTCOMES = Counter("challenger_evaluations_total", "Evaluation requests handled, by outcome", ["outcome"])


@dataclass
class Deps:
    producer: EventProducer
    reports_dir: Path
    blob_root: Path | None = None
    engines: Callable[[EvaluationRequested], Engines] = engines_for
    garak: GarakRunner | None = None


async def handle_requested(envelope: Envelope[Any], deps: Deps) -> None:
    req: EvaluationRequested = envelope.data
    store = EvaluationStore(deps.reports_dir, req.evaluation_id, deps.blob_root)
    done = store.completed()
    if done is not None:
        log.info("evaluation %s already done; republishing its result", req.evaluation_id)
        OUTCOMES.labels("republished").inc()
        await deps.producer.publish(new_event(done, source=SOURCE, cause=envelope))
        return
    try:
        done = await _run(req, store, deps)
    except EvaluationFailure as exc:
        await _fail(envelope, deps, exc.reason)
        return
    except Exception as exc:  # a bug must still close the evaluation for the pipeline
        log.exception("evaluation %s crashed", req.evaluation_id)
        await _fail(envelope, deps, f"internal error: {type(exc).__name__}: {exc}")
        return
    OUTCOMES.labels("completed").inc()
    await deps.producer.publish(new_event(done, source=SOURCE, cause=envelope))


async def _fail(envelope: Envelope[Any], deps: Deps, reason: str) -> None:
    req: EvaluationRequested = envelope.data
    log.warning("evaluation %s failed: %s", req.evaluation_id, reason)
    OUTCOMES.labels("failed").inc()
    failed = EvaluationFailed(evaluation_id=req.evaluation_id, candidate_id=req.candidate_id, reason=reason[:2000])
    await deps.producer.publish(new_event(failed, source=SOURCE, cause=envelope))


async def _run(req: EvaluationRequested, store: EvaluationStore, deps: Deps) -> EvaluationCompleted:
    try:
        datasets = load_task_datasets(req.task_spec, req.max_items)
        attacks = load_attacks(req.task_spec) if "security" in req.kinds else []
    except (BlobError, DatasetError, AttackError) as exc:
        raise EvaluationFailure(f"dataset: {exc}") from exc
    engines = deps.engines(req)
    try:
        return await evaluate(req, datasets, attacks, engines=engines, store=store, garak=deps.garak)
    except (PromptError, ProcessingError) as exc:
        raise EvaluationFailure(f"task/candidate configuration: {exc}") from exc
    finally:
        await engines.aclose()
