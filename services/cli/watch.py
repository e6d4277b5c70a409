"""`challenger watch`: a live, readable tail of the Challenger topics on any Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from rich.text import Text

from challenger.stack.state import read_state
from schemas import TOPIC_NAMES
from services.cli.output import Output, fail, progress_console, with_output
from services.cli.watch_format import RawRecord, WatchLine, render
from shared.settings import Settings


def default_bootstrap(home: Path) -> str:
    """--bootstrap, else CHALLENGER_KAFKA_BOOTSTRAP, else the running stack's broker, else the default."""
    if "CHALLENGER_KAFKA_BOOTSTRAP" in os.environ:
        return os.environ["CHALLENGER_KAFKA_BOOTSTRAP"]
    state = read_state(home) or {}
    return str(state.get("bootstrap") or Settings().kafka_bootstrap)


def _raw(record: ConsumerRecord) -> RawRecord:
    return RawRecord(record.topic, record.partition, record.offset, record.timestamp, record.key, record.value,
                     list(record.headers or ()))


async def tail(bootstrap: str, topics: list[str], *, candidate: str | None, from_beginning: bool,
               limit: int | None, seconds: float | None, out: Output) -> int:
    """Print matching records until `limit` lines, `seconds` elapse, or Ctrl-C; returns lines shown."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest" if from_beginning else "latest",
                                metadata_max_age_ms=5_000)
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()  # release the half-started client before reporting
        raise
    shown = 0
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while (limit is None or shown < limit) and (deadline is None or time.monotonic() < deadline):
            batches = await consumer.getmany(timeout_ms=250)
            for record in (r for records in batches.values() for r in records):
                line = render(_raw(record))
                if line.about(candidate) and (limit is None or shown < limit):
                    _print(out, line)
                    shown += 1
    finally:
        await consumer.stop()
    return shown


def _print(out: Output, line: WatchLine) -> None:
    data = {"time": line.time, "kind": line.kind, "subject": line.subject, "fields": line.fields,
            "ids": sorted(line.ids), "bad": line.bad}
    out.item(data, Text(line.text(), style="bold red" if line.bad else ""))


@with_output
def watch(
    topic: list[str] = typer.Option(None, "--topic", "-t", help="Topic to tail (repeatable); default: all."),
    candidate: str | None = typer.Option(None, "--candidate", "-c", help="Only events about this candidate id."),
    bootstrap: str | None = typer.Option(None, "--bootstrap", "-b",
                                         help="Kafka HOST:PORT; default: the running stack's broker."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest retained event."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Exit after this many lines."),
    seconds: float | None = typer.Option(None, "--seconds", min=0.1, help="Exit after this many seconds."),
    *, out: Output,
) -> None:
    """Live tail of the Challenger topics: time, type, subject and the key fields of each event
    (with --json, one JSON object per line)."""
    server = bootstrap or default_bootstrap(Settings().home)
    topics = topic or list(TOPIC_NAMES)
    progress_console().print(f"watching {', '.join(topics)} on {server} (Ctrl-C to stop)", style="dim",
                             markup=False)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(tail(server, topics, candidate=candidate, from_beginning=from_beginning, limit=limit,
                             seconds=seconds, out=out))
    except KafkaError as exc:
        fail(f"cannot read from Kafka at {server}: {exc}")
