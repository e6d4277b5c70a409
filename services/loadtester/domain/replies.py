"""A streamed reply after its last token: the candidate's declared post-processing, timed.

The time it takes is the request's `post_s`: part of E2E as the user sees it, never of TTFT or
ITL (those are fixed by chunk arrival stamps before it runs). A step that cannot apply
(`ProcessingError`) fails the request with the reason instead of stopping the run. Pure but
for the clock, which is injected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import perf_counter

from schemas.candidate import ProcessingStep
from services.loadtester.domain.records import RequestRecord
from shared.processing import ProcessingError, postprocess

POSTPROCESS_ERROR = "postprocess_error"


def finish_reply(rec: RequestRecord, steps: Sequence[ProcessingStep],
                 clock: Callable[[], float] = perf_counter) -> RequestRecord:
    if not steps or not rec.ok:
        return rec
    t0 = clock()
    try:
        rec.output = postprocess(steps, rec.output)
    except ProcessingError as exc:
        rec.error, rec.error_reason = POSTPROCESS_ERROR, str(exc)
    rec.post_s = clock() - t0
    return rec
