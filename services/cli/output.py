"""How every `challenger` command prints, in one place:

- the result goes to stdout: tables and lines, or with `--json` / `--output json` only JSON;
- progress, logs and errors go to stderr (`progress_console()`, `fail()`);
- a table never cuts an id: it wraps the other columns, then drops the least useful ones (and says
  which); piped or in a CI log (no terminal, no COLUMNS) nothing is wrapped or cut at all;
- text is never cut, and never read as rich markup (a reason may hold "[-1.2, 0.3]").

A command opts in with `@with_output`, which adds `--output table|json` and `--json` and hands
it an `Output`."""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NoReturn

import typer
from pydantic import BaseModel
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from challenger.client import ApiError, RegistryError, Unreachable
from services.cli.option_groups import replace_parameter

UNBOUNDED = 100_000  # a console's width where nothing should wrap (pipes, CI logs)
MIN_WRAP = 12  # the narrowest a wrapped column gets before a column is dropped instead


class Format(StrEnum):
    table = "table"
    json = "json"


@dataclass(frozen=True)
class Column:
    """`key`: an id or name people copy, printed whole on one line. `drop`: when the table does not
    fit, the column with the highest `drop` goes first; 0 never goes."""

    header: str
    key: bool = False
    drop: int = 0
    justify: Literal["left", "right"] = "left"


Cell = str | Text | None


@dataclass(frozen=True)
class Layout:
    shown: list[int]
    widths: list[int] | None  # None: every column at its natural width
    dropped: list[str] = field(default_factory=list)


def stdout_console() -> Console:
    """The terminal's width; without a terminal (a pipe, a CI log) the width COLUMNS gives, else none."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(width=UNBOUNDED if wide else None, highlight=False)


def progress_console() -> Console:
    """Progress bars, live views, logs: stderr, so stdout keeps only the result. Lines are never
    wrapped by rich (soft wrap): a terminal wraps them, a log keeps each whole on one line."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    progress_console().print(Text(f"✗ {message}", style="red"))
    raise typer.Exit(code)


@contextmanager
def registry_errors() -> Iterator[None]:
    """A refusal prints the registry's words and exits 1; no registry at all exits 2."""
    try:
        yield
    except Unreachable as exc:
        fail(str(exc), 2)
    except ApiError as exc:
        if exc.errors:
            fail(f"HTTP {exc.status}, invalid input:\n" + "\n".join(f"  {e.field}: {e.reason}" for e in exc.errors))
        fail(str(exc))
    except RegistryError as exc:
        fail(str(exc))


def _cell_width(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell or "")
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _natural(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[int]:
    return [max([cell_len(c.header)] + [_cell_width(r[i]) for r in rows]) for i, c in enumerate(columns)]


def _share(natural: list[int], flexible: list[int], room: int) -> dict[int, int]:
    """Each wrapped column gets MIN_WRAP (or less if it needs less); what is left goes to the
    narrowest first, so short labels stay whole and long text takes the wrapping."""
    widths = {i: min(natural[i], MIN_WRAP) for i in flexible}
    left = room - sum(widths.values())
    for i in sorted(flexible, key=lambda i: natural[i]):
        grow = max(min(natural[i] - widths[i], left), 0)
        widths[i] += grow
        left -= grow
    return widths


def layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> Layout:
    """Which columns to show at `width` and how wide: keys whole, others wrapped down to MIN_WRAP,
    then the highest-`drop` column goes. Pure, so it is tested without a terminal."""
    natural, shown, dropped = _natural(columns, rows), list(range(len(columns))), []
    while True:
        room = width - 3 * len(shown) - 1  # a border and two spaces of padding per column, one closing border
        least = sum(natural[i] if columns[i].key else min(natural[i], MIN_WRAP) for i in shown)
        if sum(natural[i] for i in shown) <= room:
            return Layout(shown, None, dropped)
        droppable = [i for i in shown if columns[i].drop > 0]
        if least <= room or not droppable:
            keys = [i for i in shown if columns[i].key]
            flexible = _share(natural, [i for i in shown if not columns[i].key], room - sum(natural[i] for i in keys))
            widths = [natural[i] if columns[i].key else flexible[i] for i in shown]
            return Layout(shown, widths, dropped)
        victim = max(droppable, key=lambda i: (columns[i].drop, i))
        shown.remove(victim)
        dropped.append(columns[victim].header)


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text("" if cell is None else str(cell))


def jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return {str(k): jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [jsonable(v) for v in data]
    return data


@dataclass
class Output:
    """One command's result: `emit(data, *views)` prints `data` as JSON, or the views (tables, lines)."""

    format: Format = Format.table
    console: Console = field(default_factory=stdout_console)

    @property
    def json(self) -> bool:
        return self.format is Format.json

    def emit(self, data: Any, *views: RenderableType | str) -> None:
        if self.json:
            sys.stdout.write(json.dumps(jsonable(data), indent=2, default=str) + "\n")
            sys.stdout.flush()
            return
        for view in views:  # crop=False: a table wider than the terminal (its ids whole) is not cut
            self.console.print(Text(view) if isinstance(view, str) else view, soft_wrap=isinstance(view, str | Text),
                               crop=False)

    def item(self, data: Any, view: RenderableType | str) -> None:
        """One element of a stream: a JSON line, or its view."""
        if self.json:
            sys.stdout.write(json.dumps(jsonable(data), default=str) + "\n")
            sys.stdout.flush()
            return
        self.console.print(Text(view) if isinstance(view, str) else view, soft_wrap=True)

    def table(self, title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
              width: int | None = None) -> Table:
        """A table that fits this console (or `width`) without cutting an id (see `layout`)."""
        fit = layout(columns, rows, width or self.console.width)
        caption = f"not shown at this width: {', '.join(fit.dropped)} (see --output json)" if fit.dropped else None
        needed = sum(fit.widths) + 3 * len(fit.shown) + 1 if fit.widths else None
        out = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                    width=needed if needed and needed > (width or self.console.width) else None)
        for n, i in enumerate(fit.shown):
            c = columns[i]
            out.add_column(c.header, justify=c.justify, no_wrap=c.key, overflow="fold",
                           width=fit.widths[n] if fit.widths else None)
        for row in rows:
            out.add_row(*(_text(row[i]) for i in fit.shown))
        return out


OUTPUT_OPTION = typer.Option(Format.table, "--output", "-o", help="table (for people) or json (for programs)")
JSON_OPTION = typer.Option(False, "--json", help="the same as --output json: stdout carries only JSON")


def with_output(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command `--output table|json` and `--json`; it receives them as `out: Output`."""
    return replace_parameter(command, "out", OUTPUT_PARAMETERS, _output)


def _output(output: Format = Format.table, as_json: bool = False) -> Output:
    return Output(Format.json if as_json else output)


OUTPUT_PARAMETERS = [
    inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, default=OUTPUT_OPTION, annotation=Format),
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=JSON_OPTION, annotation=bool)]
