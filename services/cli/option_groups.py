"""Option groups: a frozen dataclass whose fields are Typer options, taken by a command as ONE
parameter. Typer sees each field as its own option; the command receives the dataclass. So a
concept that several commands take (a candidate, a prompt shape, a load shape) is declared
once, and a command's signature stays a few lines long.

    @dataclass(frozen=True)
    class Budget(OptionGroup):
        max_calls: Annotated[int, typer.Option(help="...")] = 100

    @with_options
    def run(budget: Budget) -> None: ...

`replace_parameter` is the one place a command's signature is rewritten; `with_output`
(services/cli/output.py) uses it too."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

KEYWORD = inspect.Parameter.KEYWORD_ONLY


class OptionGroup:
    """Base of an option group (subclasses are frozen dataclasses with a default for every field)."""


def replace_parameter(command: Callable[..., Any], name: str, params: list[inspect.Parameter],
                      build: Callable[..., Any]) -> Callable[..., Any]:
    """`command` with its parameter `name` replaced by `params`: Typer sees `params`, and the
    command receives `build(**their values)` as `name`. Every parameter becomes keyword-only
    (Typer passes keywords; positional arguments keep their order)."""
    signature = inspect.signature(command, eval_str=True)
    added = [p.name for p in params]
    if clash := set(added) & (set(signature.parameters) - {name}):
        raise TypeError(f"{command.__name__}: {sorted(clash)} already taken by another parameter")
    new: list[inspect.Parameter] = []
    for p in signature.parameters.values():
        new += [q.replace(kind=KEYWORD) for q in params] if p.name == name else [p.replace(kind=KEYWORD)]

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        values = {n: kwargs.pop(n) for n in added}
        return command(**kwargs, **{name: build(**values)})

    run.__signature__ = signature.replace(parameters=new)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in new if p.annotation is not p.empty}
    return run


def group_parameters(group: type[OptionGroup]) -> list[inspect.Parameter]:
    """A group's fields as the parameters Typer reads (annotations resolved, defaults kept)."""
    hints = typing.get_type_hints(group, include_extras=True)
    return [inspect.Parameter(f.name, KEYWORD, default=f.default, annotation=hints[f.name])
            for f in dataclasses.fields(group)]  # type: ignore[arg-type]


def with_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Expand every parameter annotated with an `OptionGroup` into the group's options."""
    for name, p in inspect.signature(command, eval_str=True).parameters.items():
        if isinstance(p.annotation, type) and issubclass(p.annotation, OptionGroup):
            command = replace_parameter(command, name, group_parameters(p.annotation), p.annotation)
    return command


def bind(command: Callable[..., Any], name: str, value: Any) -> Callable[..., Any]:
    """`command` with its parameter `name` fixed to `value`, out of Typer's sight: one function
    serving several commands (the deployer's promote, abort and rollback)."""
    return replace_parameter(command, name, [], lambda: value)
