"""The monitor's handlers: inference and feedback events in; windows closed, judged, compared
with the reference; alarms out as degradation.detected + alert.raised (+ webhook), through
`Deps.publish` (the outbox in the service: adapters/outbox.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from schemas import Envelope, new_event
from schemas.events.inference import TOPIC, FeedbackReceived, InferenceLogged
from services.monitor.adapters import metrics
from services.monitor.adapters.judge import Judge
from services.monitor.adapters.store import MonitorStore, safe
from services.monitor.adapters.webhook import post_webhook, slack_message
from services.monitor.config import MonitorConfig
from services.monitor.domain.capture import failing_samples, reference_ranges
from services.monitor.domain.degradation import alert_for, alert_lines, degradation_event, evidence
from services.monitor.domain.drift import NO_DRIFT, DriftResult
from services.monitor.domain.event_ids import stable
from services.monitor.domain.features import FEATURES, Record, record_of
from services.monitor.domain.rules import Breach, Hysteresis, evaluate
from services.monitor.domain.sampling import reservoir
from services.monitor.domain.stats import window_stats
from services.monitor.domain.windows import Window, WindowKey, Windows, counted, monitored, reference_route
from shared.bus.consumer import consuming

log = logging.getLogger(__name__)
SOURCE = "challenger/monitor"


class Publish(Protocol):
    async def __call__(self, *envelopes: Envelope[Any]) -> None:
        """Publish `envelopes`, all or none."""


JournalRow = tuple[int, str, dict[str, Any]]  # (partition of challenger.inference, route, entry)
T = TypeVar("T")
AlarmChange = Callable[[dict[str, Any] | None], tuple[dict[str, Any], T]]


class Journal(Protocol):
    """What the open windows hold, the closed windows' log and the alarm counters, where every
    instance of the monitor group reads them (adapters/journal.SqlJournal: the monitor's database)."""

    def write(self, rows: Sequence[JournalRow], *, clear_routes: Collection[str] = (),
              clear_partitions: Collection[int] = (), closed: Sequence[Window] = ()) -> None:
        """One transaction: forget what the cleared routes/partitions held, append `rows`, log
        the `closed` windows."""

    def entries(self, partitions: Collection[int] | None = None) -> list[JournalRow]:
        """The rows of `partitions` (all: None), each route's oldest first."""

    def alarm(self, route: str, candidate_id: str) -> dict[str, Any] | None: ...

    def update_alarm(self, route: str, candidate_id: str, change: AlarmChange[T]) -> T:
        """One transaction holding the alarm row: `change(state)`'s new state stored; its result back."""


DriftFn = Callable[[Sequence[Record], Sequence[Record], Path | None], DriftResult]


def evidently_drift(ref: Sequence[Record], cur: Sequence[Record], html: Path | None) -> DriftResult:
    """Each window's drift decision: Evidently's per-column tests, without its Report."""
    from services.monitor.adapters.drift import stattest_drift  # Evidently takes seconds to import

    return stattest_drift(ref, cur)


def evidently_report(ref: Sequence[Record], cur: Sequence[Record], html: Path | None) -> DriftResult:
    """Evidently's full Report and its HTML page: the evidence of an alarm, rendered when one fires."""
    from services.monitor.adapters.drift import compute_drift

    return compute_drift(ref, cur, html)


def warm_drift() -> None:
    """Import Evidently ahead of the first window (run in the drift worker at start-up)."""
    import services.monitor.adapters.drift  # noqa: F401


@dataclass
class Deps:
    publish: Publish
    store: MonitorStore
    journal: Journal
    reports_dir: Path
    judge: Judge | None = None
    drift: DriftFn = evidently_drift
    report: DriftFn | None = evidently_report  # the HTML evidence of an alarm (with cfg.html_reports)
    executor: Executor | None = None  # a process pool keeps Evidently off the ingest thread's GIL


class Monitor:
    """Ingest (features, windows) runs in the consumer; the analysis of a closed window (judge,
    drift, rules, alarm) runs inline, or, with `queue_size`, in `analyse_forever`, so a slow
    Evidently run does not stall ingest. When `queue_size` windows already wait, the next ones
    are analysed without drift (the cheap rules still run): ingest never blocks on Evidently.

    Instances in one consumer group split `challenger.inference` by partition (keyed by route).
    What the open windows hold is journaled per partition in the shared database, and the
    consumer tells the monitor when the group moves partitions (`revoked`, `assigned`): memory
    then holds exactly the journal of the partitions this instance owns."""

    def __init__(self, cfg: MonitorConfig, deps: Deps, queue_size: int | None = None) -> None:
        self.cfg = cfg
        self.deps = deps
        self._queue: asyncio.Queue[tuple[Window, Envelope[Any] | None, bool]] | None = (
            asyncio.Queue() if queue_size else None)
        self._drift_backlog = queue_size or 0
        self._watched = cfg.watched
        self.windows = Windows(cfg.window_policy)
        self._reference: dict[WindowKey, deque[Record]] = {}
        self._reference_version: dict[WindowKey, int] = {}
        self._last_drift: dict[WindowKey, DriftResult] = {}  # windows past the drift backlog reuse it
        self._rewrite = False  # a batch failed: the next journal write writes the open windows whole
        self._partition: dict[str, int] = {}  # route -> its partition of challenger.inference, for the held routes
        self._lock = asyncio.Lock()
        self.fired: list[str] = []

    async def handle(self, envelope: Envelope[Any]) -> None:
        await self.handle_batch([envelope])

    async def handle_batch(self, envelopes: list[Envelope[Any]]) -> None:
        """Ingest a fetched batch: features and windows per event, then ONE journal write (an
        append, or a rewrite when windows closed) before the consumer commits the batch. An
        event delivered again is skipped by the windows (`Windows.add`): the inference stream
        has no inbox, since a database row per record would cost more than all the rest."""
        tp = consuming()
        partition = tp.partition if tp is not None else 0  # outside a consumer (tests): one partition
        async with self._lock:
            entries: list[JournalRow] = []
            closed: list[tuple[Window, Envelope[Any]]] = []
            try:
                for envelope in envelopes:
                    if not monitored(route := getattr(envelope.data, "route", ""), self._watched):
                        continue  # a route this monitor does not watch
                    self._partition[route] = partition
                    entry, now_closed = self._ingest(envelope)
                    entries += [(partition, route, entry)] if entry is not None else []
                    closed += [(w, envelope) for w in now_closed]
                self._journal(entries, [w for w, _ in closed])
            except Exception:  # the windows may hold records the journal lacks, which a retry skips as held
                self._rewrite = True
                raise
            for window, cause in closed:
                await self._closed([window], cause)

    def _ingest(self, envelope: Envelope[Any]) -> tuple[dict[str, Any] | None, list[Window]]:
        """One event into the windows: its journal entry and the windows it closed."""
        data = envelope.data
        if isinstance(data, InferenceLogged) and not counted(data.route, data.purpose):
            metrics.EXCLUDED.labels(data.purpose or "").inc()  # a red-team attack on the reference
            return None, []
        if isinstance(data, InferenceLogged):
            record = record_of(data, envelope.time.timestamp())
            if (closed := self.windows.add(record)) is None:
                return None, []  # delivered again: its window holds it already
            metrics.RECORDS.inc()
            return {"record": record.as_dict()}, closed
        if isinstance(data, FeedbackReceived):
            self.on_feedback(data)
            return ({"feature": [data.route, data.request_id, "feedback", data.score]},
                    self.windows.tick(envelope.time.timestamp()))
        return None, []

    async def tick(self, now: float) -> None:
        """Close time windows that are due even when their route went quiet."""
        async with self._lock:
            closed = self.windows.tick(now)
            self._journal([], closed)
            await self._closed(closed, None)

    async def revoked(self, partitions: set[Any]) -> None:
        """The group takes `partitions` (TopicPartitions) away: once the batch under way is
        journaled, forget their open windows (the journal has them, for the instance that gets
        them next; the alarm counters are only ever in the database). Windows that closed already
        are still analysed here (their alarm steps land in the database too)."""
        async with self._lock:
            try:
                self._journal([], [])  # a failed batch's rewrite, if one is pending
            finally:  # unwritten, those records were not committed either: their new owner reads them again
                self._forget({tp.partition for tp in partitions if tp.topic == TOPIC})

    async def assigned(self, partitions: set[Any]) -> None:
        """The group gives this instance `partitions` (TopicPartitions; every one it owns from
        now on): rebuild their open windows from the journal, dropping whatever else memory holds
        (records of a partition revoked while their batch waited for the lock)."""
        owned = {tp.partition for tp in partitions if tp.topic == TOPIC}
        restored = await self.restore(owned, only=True)
        log.info("partitions %s of %s: %d open-window record(s) rebuilt from the journal", sorted(owned), TOPIC,
                 restored)

    async def restore(self, partitions: Collection[int] | None = None, *, only: bool = False) -> int:
        """Rebuild the open windows of `partitions` (every one: None) from the journal, in place of
        what memory held of them (their events' offsets were committed, so they are not delivered
        again); with `only`, forget every other partition too. Returns how many records came back."""
        async with self._lock:
            held = set(self._partition.values())
            self._forget(held if partitions is None or only else held & set(partitions))
            rows = self.deps.journal.entries(partitions)
            closed: list[Window] = []
            for partition, route, entry in rows:
                self._partition[route] = partition
                if "record" in entry:
                    closed += self.windows.add(Record(**entry["record"])) or []
                elif "feature" in entry:
                    route, request_id, name, value = entry["feature"]
                    self.windows.set_feature(route, request_id, name, value)
            self._journal([], closed)
            await self._closed(closed, None)
        return sum(1 for _, _, e in rows if "record" in e)

    def _forget(self, partitions: set[int]) -> None:
        """Drop the open windows of the routes of `partitions` (and the drift a late analysis left)."""
        routes = {route for route, p in self._partition.items() if p in partitions}
        self.windows.drop(routes)
        for route in routes:
            del self._partition[route]
        for key in [k for k in self._last_drift if k.route not in self._partition]:
            del self._last_drift[key]

    def _journal(self, entries: list[JournalRow], closed: list[Window]) -> None:
        """Keep what the open windows hold in the journal, in one write: append the new entries;
        for routes whose windows `closed`, replace their rows by what is still open and log the
        closed windows (the same transaction: a window is open in the journal or logged, never
        neither); after a failed batch (which left records in the windows but not in the
        journal), rewrite every partition held."""
        routes = {w.key.route for w in closed}
        if self._rewrite:
            held = set(self._partition.values()) | {p for p, _, _ in entries}
            self.deps.journal.write(self._open_rows(), clear_partitions=held, closed=closed)
        elif closed:
            self.deps.journal.write([e for e in entries if e[1] not in routes] + self._open_rows(routes),
                                    clear_routes=routes, closed=closed)
        elif entries:
            self.deps.journal.write(entries)
        self._rewrite = False

    def _open_rows(self, routes: set[str] | None = None) -> list[JournalRow]:
        return [(self._partition[r.route], r.route, {"record": r.as_dict()}) for r in self.windows.open_records()
                if routes is None or r.route in routes]

    def status(self) -> dict[str, Any]:
        """What an operator asks first: what is open, what the references hold, what fired."""
        return {
            "open_windows": [{"route": k.route, "candidate_id": k.candidate_id, "records": n}
                             for k, n in self.windows.open_sizes().items()],
            "references": {key.slug(): len(records) for key, records in self._reference.items()},
            "drift_queue": self._queue.qsize() if self._queue is not None else 0,
            "degradations": self.fired[-50:],
        }

    def on_feedback(self, fb: FeedbackReceived) -> None:
        self.windows.set_feature(fb.route, fb.request_id, "feedback", fb.score)
        metrics.FEEDBACK.inc()

    def reference(self, key: WindowKey) -> deque[Record]:
        """The records `key`'s production windows are judged against: that candidate's own
        staging traffic, or else its first production window (or a period an operator chose
        with `challenger monitor reference`). Per candidate, because half the features (answer
        length, tokens, latency) describe the model: judged against another model's reference,
        a healthy champion looked drifted the moment a challenger's staging traffic arrived.
        Its version is checked for every window (its records read again when it moved): the
        staging route is another key, whose windows may close on another instance of the group,
        and an operator may have set it."""
        version = self.deps.store.reference_version(key)
        if key not in self._reference or self._reference_version.get(key) != version:
            version, records = self.deps.store.versioned_reference(key)
            self._reference[key], self._reference_version[key] = deque(records, maxlen=self.cfg.reference_size), version
        return self._reference[key]

    def set_reference(self, key: WindowKey, records: Sequence[Record]) -> None:
        self._reference[key] = deque(records, maxlen=self.cfg.reference_size)
        self._reference_version[key] = self.deps.store.save_reference(key, list(self._reference[key]))

    async def _closed(self, windows: list[Window], cause: Envelope[Any] | None) -> None:
        for window in windows:
            if self._queue is None:
                await self.close(window, cause)
            else:
                with_drift = self._queue.qsize() < self._drift_backlog
                if not with_drift:
                    metrics.DRIFT_SKIPPED.inc()
                self._queue.put_nowait((window, cause, with_drift))

    async def analyse_forever(self) -> None:
        assert self._queue is not None, "analyse_forever needs a queue_size"
        while True:
            window, cause, with_drift = await self._queue.get()
            try:
                await self.close(window, cause, with_drift)
            except Exception:  # one bad window must not stop the analysis of the next
                log.exception("analysis of window %s %s failed", window.key.slug(), window.window_id)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued window is analysed."""
        await self._queue.join() if self._queue is not None else None

    async def close(self, window: Window, cause: Envelope[Any] | None = None, with_drift: bool = True) -> None:
        metrics.WINDOWS.inc()
        if self.deps.judge is not None:  # logged as it closed (journal); now with the judge's scores
            window = Window(window.key, window.seq, window.opened_at, window.closed_at,
                            tuple(await self.deps.judge.judge_window(window.records)))
            self.deps.store.log_judged(window)
        if (base := reference_route(window.key.route)) is not None:
            key = WindowKey(base, window.key.candidate_id)
            self.set_reference(key, [*self.reference(key), *window.records])
            return
        ref = list(self.reference(window.key))
        if not ref and self.cfg.bootstrap_reference:
            log.info("no reference for %s: window %s becomes it", window.key.slug(), window.window_id)
            self.set_reference(window.key, window.records)
            return
        await self._judge_window(window, ref, cause, with_drift and bool(ref))

    async def _judge_window(self, window: Window, ref: list[Record], cause: Envelope[Any] | None,
                            with_drift: bool) -> None:
        drift = await self._drift(window, ref) if with_drift else NO_DRIFT
        stats, ref_stats = window_stats(window.records), (window_stats(ref) if ref else None)
        breaches = evaluate(stats, ref_stats, drift.share if with_drift else None, self.cfg.rules)
        if with_drift:
            self._last_drift[window.key] = drift
            metrics.DRIFT_SHARE.labels(window.key.route, window.key.candidate_id).set(drift.share)
        if breaches:
            log.info("window %s %s breached: %s", window.key.slug(), window.window_id,
                     ", ".join(b.describe() for b in breaches))
        fired = self._step_alarm(window.key, breaches)
        if fired is not None:
            await self._fire(window, fired, self._last_drift.get(window.key), ref, cause)

    def _step_alarm(self, key: WindowKey, breaches: list[Breach]) -> list[Breach] | None:
        """Count a judged window of `key` in its alarm counters, read and written in one
        transaction of the journal and held nowhere else: whichever instance judges `key`'s next
        window goes on from every step before it (after a restart; once its partition moved
        here; also a step the former owner took late, for a window that closed there before the
        move). The breaches the alarm quotes (those of the windows that fired it) when it fires."""
        def step(state: dict[str, Any] | None) -> tuple[dict[str, Any], list[Breach] | None]:
            counters = (Hysteresis.restored(self.cfg.hysteresis, state) if state is not None
                        else Hysteresis(self.cfg.hysteresis))
            fired = counters.step(breaches)
            return counters.state(), fired

        return self.deps.journal.update_alarm(key.route, key.candidate_id, step)

    async def _drift(self, window: Window, ref: list[Record]) -> DriftResult:
        ref_sample, cur_sample = self._samples(window, ref)
        with metrics.DRIFT_SECONDS.time():
            return await self._in_worker(self.deps.drift, ref_sample, cur_sample, None)

    def _samples(self, window: Window, ref: list[Record]) -> tuple[list[Record], list[Record]]:
        """The reference and the window, each sampled to at most `drift_sample` records."""
        size, seed = self.cfg.drift_sample, f"{window.key.slug()}/{window.window_id}"
        return reservoir(ref, size, f"{seed}/reference"), reservoir(window.records, size, seed)

    async def _in_worker(self, fn: DriftFn, ref: list[Record], cur: list[Record], html: Path | None) -> DriftResult:
        return await asyncio.get_running_loop().run_in_executor(self.deps.executor, fn, ref, cur, html)

    async def _report(self, window: Window, ref: list[Record], drift: DriftResult) -> DriftResult:
        """`drift` with the HTML page of Evidently's Report on the same samples, when configured."""
        if not (self.cfg.html_reports and self.deps.report and ref):
            return drift
        html = self.deps.reports_dir / "monitor" / safe(window.key.route) / f"{window.window_id}.html"
        rendered = await self._in_worker(self.deps.report, *self._samples(window, ref), html)
        return replace(drift, report_path=rendered.report_path)

    async def _fire(self, window: Window, breaches: list[Breach], drift: DriftResult | None, ref: list[Record],
                    cause: Envelope[Any] | None) -> None:
        measured = await self._report(window, ref, drift or NO_DRIFT)
        failing = failing_samples(window.records, drifted=measured.drifted, ranges=reference_ranges(ref, FEATURES),
                                  latency_slo_ms=self.cfg.rules.latency_p95_ms, limit=self.cfg.max_samples)
        ev = evidence(breaches, window_stats(window.records), drift.share if drift else None, measured.scores)
        event = degradation_event(window, breaches, failing, ev, measured.report_path)
        envelope = stable(new_event(event, source=SOURCE, cause=cause, correlation_id=event.degradation_id),
                          event.degradation_id)
        alert = stable(new_event(alert_for(event, breaches), source=SOURCE, cause=envelope), event.degradation_id)
        await self.deps.publish(envelope, alert)
        metrics.DEGRADATIONS.inc()
        self.fired.append(event.degradation_id)
        log.warning("degradation %s on %s: %s", event.degradation_id, window.key.slug(), ", ".join(event.rules))
        if self.cfg.webhook_url:
            message = slack_message(alert_for(event, breaches).title, alert_lines(event, breaches))
            await post_webhook(self.cfg.webhook_url, message, self.cfg.webhook_timeout_s)
