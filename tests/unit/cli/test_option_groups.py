"""Option groups reach Typer as plain options and the command as one dataclass; through a real
command, an old spelling gives the same result on stdout and one deprecation line on stderr."""

import json
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from services.cli.option_groups import OptionGroup, bind, with_options
from services.cli.options import CandidateOptions, PromptOptions, candidate_spec, prompt_shape
from services.cli.output import Output, with_output


@dataclass(frozen=True)
class Knobs(OptionGroup):
    level: Annotated[int, typer.Option(help="how much")] = 1
    name: Annotated[str | None, typer.Option("--label")] = None


app = typer.Typer()


@app.command("knobs")
@with_output
@with_options
def knobs(first: Annotated[str, typer.Argument()], *, knobs: Knobs, out: Output) -> None:
    out.emit({"first": first, "knobs": [knobs.level, knobs.name]})


@app.command("spec")
@with_output
@with_options
def spec(candidate: CandidateOptions, *, prompt: PromptOptions, out: Output) -> None:
    out.emit({"spec": candidate_spec(candidate, "t").model_dump(mode="json"), "prompt": prompt_shape(prompt).given()})


def echo(what: str, *, out: Output) -> None:
    out.emit({"what": what})


app.command("bound")(bind(with_output(echo), "what", "fixed"))


def run(*args: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_a_group_is_options_to_typer_and_one_value_to_the_command() -> None:
    assert run("knobs", "a", "--level", "3", "--label", "x")[0] == {"first": "a", "knobs": [3, "x"]}
    assert run("knobs", "a")[0] == {"first": "a", "knobs": [1, None]}
    assert run("bound")[0] == {"what": "fixed"}  # a bound parameter is out of Typer's sight


def test_a_group_field_may_not_shadow_a_parameter() -> None:
    def clash(level: int, knobs: Knobs) -> None: ...

    with pytest.raises(TypeError, match="level"):
        with_options(clash)


URL = "http://127.0.0.1:8301"


@pytest.mark.parametrize(("old", "new", "lines"), [
    ([URL, "--model", "m"], ["--model", "m", "--model-url", URL], 1),
    (["--url", URL, "--model", "m"], [f"m@{URL}"], 1),
    ([f"m@{URL}", "--template", "Q: {input}", "--style", "completion", "--system", "s"],
     [f"m@{URL}", "--prompt-template", "Q: {input}", "--prompt-style", "completion", "--system-prompt", "s"], 3),
])
def test_old_spellings_still_work_and_say_so_once_on_stderr(old: list[str], new: list[str], lines: int) -> None:
    old_out, old_err = run("spec", *old)
    new_out, new_err = run("spec", *new)
    assert old_out == new_out and new_err == ""
    assert old_err.count("deprecated:") == lines and len(old_err.strip().splitlines()) == lines
