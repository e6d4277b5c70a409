"""The options every command spells the same way: "a candidate" and "a prompt shape".

A candidate (the model a command calls) is given as one of
    CANDIDATE                      a CandidateSpec file (YAML or JSON), or MODEL@URL
    --model NAME --model-url URL   the same as NAME@URL (with --engine for a non-OpenAI server)
and a second candidate in a role (--champion, --teacher, --optimizer, --chosen-from,
--paraphraser) as FILE or MODEL@URL. A prompt shape is --prompt-template, --prompt-style and
--system-prompt, the names of the task's own fields (and of `challenger task create`).

The spellings the commands used before still work; each prints one line on stderr naming the
new one (stdout stays clean for --json). `parse_candidate`, `parse_role` and `parse_prompt`
are pure, so every spelling is unit-tested; `candidate_spec` and friends add the file read
and the warning."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import typer
import yaml
from pydantic import ValidationError

from schemas.candidate import CandidateSpec, Engine
from services.cli.option_groups import OptionGroup
from services.cli.output import progress_console
from services.deployer.domain.routes import serving_url

T = TypeVar("T")
HTTP = ("http://", "https://")
AT_URL = re.compile(r"(.+?)@(https?://.+)")
CANDIDATE_PANEL, PROMPT_PANEL = "Candidate", "Prompt shape"


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """A parsed value and the deprecation lines its spelling earned (none for the canonical one)."""

    value: T
    deprecated: tuple[str, ...] = ()


# ---- a candidate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRef:
    """Where a candidate comes from: a spec file, or a model at a base URL."""

    path: Path | None = None
    model: str | None = None
    url: str | None = None
    engine: Engine = Engine.openai


@dataclass(frozen=True)
class CandidateOptions(OptionGroup):
    """The candidate a command calls: CANDIDATE, or --model with --model-url."""

    candidate: Annotated[str | None, typer.Argument(
        metavar="CANDIDATE", show_default=False, rich_help_panel=CANDIDATE_PANEL,
        help="candidate spec file (YAML/JSON), or MODEL@URL (an OpenAI-compatible server)")] = None
    model: Annotated[str | None, typer.Option(
        help="model name the server knows (with --model-url)", rich_help_panel=CANDIDATE_PANEL)] = None
    model_url: Annotated[str | None, typer.Option(
        help="base URL of --model, e.g. http://127.0.0.1:8301", rich_help_panel=CANDIDATE_PANEL)] = None
    engine: Annotated[Engine, typer.Option(
        help="protocol of --model-url or MODEL@URL", rich_help_panel=CANDIDATE_PANEL)] = Engine.openai
    url: Annotated[str | None, typer.Option("--url", hidden=True, help="deprecated: --model-url")] = None


def is_url(text: str) -> bool:
    return text.startswith(HTTP)


def _at_url(text: str) -> tuple[str, str] | None:
    """MODEL@URL as (model, url), split at the first "@http" (a model name may hold an "@");
    None when `text` is not that shorthand."""
    match = AT_URL.fullmatch(text)
    return (match[1], match[2]) if match else None


def parse_role(text: str, option: str) -> Parsed[CandidateRef]:
    """A candidate option's value: FILE or MODEL@URL. The old URL/MODEL still parses."""
    if shorthand := _at_url(text):
        return Parsed(CandidateRef(model=shorthand[0], url=shorthand[1]))
    if is_url(text):
        url, _, model = text.rstrip("/").rpartition("/")
        if not is_url(url) or not model:
            raise typer.BadParameter(f"{text!r}: expected a candidate file or MODEL@URL", param_hint=option)
        return Parsed(CandidateRef(model=model, url=url),
                      (f"{option} URL/MODEL is deprecated; write {option} {model}@{url}",))
    return Parsed(CandidateRef(path=Path(text)))


def parse_candidate(options: CandidateOptions, *, default_model: str | None = None) -> Parsed[CandidateRef]:
    """The command's candidate from CANDIDATE, or --model NAME --model-url URL. The old
    spellings still parse: a bare URL as CANDIDATE (bench) and --url (redteam garak)."""
    ref, model, model_url = options.candidate, options.model, options.model_url
    deprecated: list[str] = []
    if options.url is not None:
        deprecated.append("--url is deprecated; use --model-url")
        model_url = model_url or options.url
    if ref is not None and is_url(ref) and not _at_url(ref):
        deprecated.append(f"a URL as CANDIDATE is deprecated; use --model-url {ref} (or MODEL@{ref})")
        ref, model_url = None, ref
    if ref is not None:
        if model is not None or model_url is not None:
            raise typer.BadParameter("give CANDIDATE or --model/--model-url, not both")
        parsed = parse_role(ref, "CANDIDATE")
        return Parsed(dataclasses.replace(parsed.value, engine=options.engine), (*deprecated, *parsed.deprecated))
    return Parsed(_split(model or default_model, model_url, options.engine), tuple(deprecated))


def _split(model: str | None, url: str | None, engine: Engine) -> CandidateRef:
    if model is None and url is None:
        raise typer.BadParameter("give a CANDIDATE (a spec file or MODEL@URL), or --model NAME --model-url URL")
    if model is None or url is None:
        raise typer.BadParameter("--model NAME and --model-url URL go together (or write MODEL@URL)")
    if not is_url(url):
        raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--model-url")
    return CandidateRef(model=model, url=url, engine=engine)


def parse_legacy_pair(option: str, url: str | None, model: str | None, default_model: str) -> Parsed[str | None]:
    """An old `--ROLE-url URL [--ROLE-model NAME]` pair, as the MODEL@URL value of `--ROLE`."""
    if url is None:
        return Parsed(None, (f"--{option}-model is deprecated; use --{option} MODEL@URL",) if model else ())
    value = f"{model or default_model}@{url}"
    return Parsed(value, (f"--{option}-url/--{option}-model are deprecated; use --{option} {value}",))


def slug(model: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in model).strip("-.") or "candidate"


def existing_file(path: Path, shown: str) -> Path:
    if not path.is_file():
        raise typer.BadParameter(f"{shown!r} is neither a candidate file nor MODEL@URL")
    return path


def load_spec(ref: CandidateRef, task: str, shown: str) -> CandidateSpec:
    """The CandidateSpec `ref` names (a file's task defaults to `task`); a bad one is a usage error."""
    try:
        if ref.path is None:
            return CandidateSpec(name=slug(str(ref.model)), model=str(ref.model), task=task, engine=ref.engine,
                                 endpoint=ref.url)
        data = yaml.safe_load(existing_file(ref.path, shown).read_text()) or {}
        return CandidateSpec.model_validate({"task": task, **data} if isinstance(data, dict) else data)
    except (ValidationError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{shown}: {exc}") from exc


def warn(deprecated: Sequence[str]) -> None:
    """One line per old spelling, on stderr."""
    for line in deprecated:
        progress_console().print(f"deprecated: {line}", style="yellow", markup=False)


def candidate_spec(options: CandidateOptions, task: str, *, default_model: str | None = None) -> CandidateSpec:
    """The command's candidate as a spec (task `task` unless its file names one)."""
    parsed = parse_candidate(options, default_model=default_model)
    warn(parsed.deprecated)
    return load_spec(parsed.value, task, options.candidate or f"{parsed.value.model}@{parsed.value.url}")


def load_candidate(text: str, task: str, option: str = "CANDIDATE") -> CandidateSpec:
    """A candidate option's value (FILE or MODEL@URL) as a spec."""
    parsed = parse_role(text, option)
    warn(parsed.deprecated)
    return load_spec(parsed.value, task, text)


def endpoint_url(spec: CandidateSpec) -> str:
    """The base URL a candidate is called at: the deployer's own rule (its endpoint, else its launch port)."""
    return serving_url(spec)


# ---- a prompt shape -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptShape:
    """How an item becomes a prompt, as the task's fields of the same names."""

    prompt_template: str | None = None
    prompt_style: str | None = None
    system_prompt: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class PromptOptions(OptionGroup):
    """--prompt-template, --prompt-style, --system-prompt (the old --template, --style, --system still work)."""

    prompt_template: Annotated[str | None, typer.Option(
        help="prompt template over an item's fields, e.g. 'Q: {input}'", rich_help_panel=PROMPT_PANEL)] = None
    prompt_style: Annotated[str | None, typer.Option(
        help="chat | completion (base models need completion)", rich_help_panel=PROMPT_PANEL)] = None
    system_prompt: Annotated[str | None, typer.Option(help="system prompt", rich_help_panel=PROMPT_PANEL)] = None
    template: Annotated[str | None, typer.Option("--template", hidden=True)] = None
    style: Annotated[str | None, typer.Option("--style", hidden=True)] = None
    system: Annotated[str | None, typer.Option("--system", hidden=True)] = None


PROMPT_RENAMES = {"template": "prompt_template", "style": "prompt_style", "system": "system_prompt"}


def parse_prompt(options: PromptOptions) -> Parsed[PromptShape]:
    """The prompt shape; an old option fills its field when the new one is not given."""
    fields: dict[str, Any] = {new: getattr(options, new) for new in PROMPT_RENAMES.values()}
    deprecated = []
    for old, new in PROMPT_RENAMES.items():
        if getattr(options, old) is not None:
            deprecated.append(f"--{old} is deprecated; use --{new.replace('_', '-')}")
            fields[new] = fields[new] if fields[new] is not None else getattr(options, old)
    return Parsed(PromptShape(**fields), tuple(deprecated))


def prompt_shape(options: PromptOptions) -> PromptShape:
    parsed = parse_prompt(options)
    warn(parsed.deprecated)
    return parsed.value
