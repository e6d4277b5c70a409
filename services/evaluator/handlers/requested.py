"""evaluation.requested -> evaluation.completed | evaluation.failed.

The consumer's inbox runs each evaluation once (keyed by evaluation_id). Its reply, a result or
a failure, is stored before it is published (shared.kit.replies): a request redelivered after a
crash between the two publishes the stored reply instead of evaluating again, and a duplicate
the inbox recognises is answered with it (`replay_requested`). A request interrupted mid-run
resumes from the per-item checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from schemas.envelope import Envelope
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed, EvaluationRequested
from services.evaluator.adapters.datasets import load_attacks, load_task_datasets
from services.evaluator.adapters.engines import Engines, engines_for
from services.evaluator.adapters.garak_runner import GarakRunner
from services.evaluator.adapters.store import EvaluationStore, evaluation_dir
from services.evaluator.domain.checks import EvaluationFailure
from services.evaluator.domain.redteam import AttackError
from services.evaluator.handlers.evaluation import evaluate
from shared.blobs import BlobError
from shared.bus.producer import EventProducer
from shared.datasets import DatasetError
from shared.kit.replies import Replies
from shared.processing import ProcessingError
from shared.scoring.prompting import PromptError

log = logging.getLogger(__name__)
SOURCE = "challenger/evaluator"
OUTCOMES = Counter("challenger_evaluations_total", "Evaluation requests handled, by outcome", ["outcome"])
Outcome = EvaluationCompleted | EvaluationFailed


@dataclass
class Deps:
    producer: EventProducer
    reports_dir: Path
    blob_root: Path | None = None
    engines: Callable[[EvaluationRequested], Engines] = engines_for
    garak: GarakRunner | None = None

    @property
    def replies(self) -> Replies:
        return Replies(self.producer, SOURCE, (EvaluationCompleted, EvaluationFailed),
                       lambda request: evaluation_dir(self.reports_dir, request.data.evaluation_id))


async def handle_requested(envelope: Envelope[Any], deps: Deps) -> None:
    if await deps.replies.answer(envelope, lambda: _outcome(envelope.data, deps)):
        log.info("evaluation %s already done; republishing its result", envelope.data.evaluation_id)
        OUTCOMES.labels("republished").inc()


async def replay_requested(envelope: Envelope[Any], deps: Deps) -> None:
    OUTCOMES.labels("republished").inc()
    await deps.replies.replay(envelope)


async def _outcome(req: EvaluationRequested, deps: Deps) -> Outcome:
    store = EvaluationStore(deps.reports_dir, req.evaluation_id, deps.blob_root)
    try:
        done = await _run(req, store, deps)
    except EvaluationFailure as exc:
        return _failed(req, exc.reason)
    except Exception as exc:  # a bug must still close the evaluation for the pipeline
        log.exception("evaluation %s crashed", req.evaluation_id)
        return _failed(req, f"internal error: {type(exc).__name__}: {exc}")
    OUTCOMES.labels("completed").inc()
    return done


def _failed(req: EvaluationRequested, reason: str) -> EvaluationFailed:
    log.warning("evaluation %s failed: %s", req.evaluation_id, reason)
    OUTCOMES.labels("failed").inc()
    return EvaluationFailed(evaluation_id=req.evaluation_id, candidate_id=req.candidate_id, reason=reason[:2000])


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
