"""The CLI's one output mechanism: tables that never cut an id, JSON alone on stdout."""

from __future__ import annotations

import io
import json

import typer
from rich.console import Console
from typer.testing import CliRunner

from services.cli.output import Column, Format, Output, layout, with_output

COLUMNS = [Column("id", key=True), Column("name", key=True), Column("stage"), Column("engine", drop=2),
           Column("by", drop=3), Column("why")]
ROWS = [["cand-0123456789ab", "gemma-3-270m-instruct", "awaiting_approval", "llamacpp", "operator:someone",
         "staging passed: attack success 0.12 <= 0.60, E2E accuracy 0.81 " * 2]]


def _render(width: int) -> str:
    out = Output(Format.table, Console(file=io.StringIO(), width=width))
    out.emit({}, out.table("t", COLUMNS, ROWS))
    return out.console.file.getvalue()  # type: ignore[attr-defined]


def test_wide_enough_keeps_every_column_at_its_natural_width() -> None:
    fit = layout(COLUMNS, ROWS, 400)
    assert fit.shown == list(range(6)) and fit.widths is None and fit.dropped == []


def test_narrow_wraps_the_others_then_drops_the_least_useful_first() -> None:
    fit = layout(COLUMNS, ROWS, 80)
    assert fit.dropped == ["by", "engine"] and [COLUMNS[i].header for i in fit.shown] == ["id", "name", "stage", "why"]
    assert fit.widths is not None and sum(fit.widths) + 3 * len(fit.shown) + 1 <= 80
    assert fit.widths[:2] == [len("cand-0123456789ab"), len("gemma-3-270m-instruct")]


def test_rendered_at_80_columns_ids_are_whole_and_the_rest_wraps_uncut() -> None:
    text = _render(80)
    assert "cand-0123456789ab" in text and "gemma-3-270m-instruct" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "not shown at this width: by, engine" in text.replace("\n", " ")


def test_even_too_narrow_for_the_keys_an_id_is_never_cut() -> None:
    assert "cand-0123456789ab" in _render(30)


def test_text_is_never_read_as_markup() -> None:
    out = Output(Format.table, Console(file=io.StringIO(), width=200))
    out.emit({}, "CI [-1.2, 0.3] [bold]kept[/bold]")
    assert "CI [-1.2, 0.3] [bold]kept[/bold]" in out.console.file.getvalue()  # type: ignore[attr-defined]


def test_with_output_adds_output_and_json_everywhere() -> None:
    app = typer.Typer()

    @app.command()
    @with_output
    def hello(name: str, loud: bool = False, *, out: Output) -> None:
        out.emit({"name": name, "loud": loud}, f"hello {name}")

    @app.command()
    def other() -> None: ...

    runner = CliRunner()
    assert runner.invoke(app, ["hello", "ann"]).stdout == "hello ann\n"
    for flags in (["--json"], ["--output", "json"], ["-o", "json"]):
        result = runner.invoke(app, ["hello", "ann", "--loud", *flags])
        assert json.loads(result.stdout) == {"name": "ann", "loud": True}, flags
    assert runner.invoke(app, ["hello", "ann", "--output", "yaml"]).exit_code == 2
