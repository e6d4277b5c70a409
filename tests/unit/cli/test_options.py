"""Every spelling of "a candidate" and "a prompt shape": the canonical ones parse without a word,
each old one parses to the same value with one deprecation line naming the new spelling."""

import json
from pathlib import Path

import pytest
import typer

from schemas.candidate import Engine
from services.cli.options import (
    CandidateOptions,
    CandidateRef,
    PromptOptions,
    PromptShape,
    load_spec,
    parse_candidate,
    parse_legacy_pair,
    parse_prompt,
    parse_role,
)

URL = "http://127.0.0.1:8301"
SMOLLM2 = CandidateRef(model="smollm2", url=URL)


@pytest.mark.parametrize("options", [
    CandidateOptions(candidate=f"smollm2@{URL}"),
    CandidateOptions(model="smollm2", model_url=URL),
])
def test_the_canonical_candidate_spellings_agree_and_say_nothing(options: CandidateOptions) -> None:
    assert parse_candidate(options).value == SMOLLM2 and parse_candidate(options).deprecated == ()


def test_a_candidate_file_is_a_path() -> None:
    assert parse_candidate(CandidateOptions(candidate="specs/c.yaml")).value.path == Path("specs/c.yaml")


@pytest.mark.parametrize(("options", "says"), [
    (CandidateOptions(candidate=URL, model="smollm2"), f"use --model-url {URL} (or MODEL@{URL})"),  # bench URL
    (CandidateOptions(url=URL, model="smollm2"), "--url is deprecated; use --model-url"),  # redteam garak --url
])
def test_old_candidate_spellings_still_parse_with_one_line(options: CandidateOptions, says: str) -> None:
    parsed = parse_candidate(options)
    assert parsed.value == SMOLLM2
    assert len(parsed.deprecated) == 1 and says in parsed.deprecated[0]


def test_the_engine_applies_to_the_shorthand_and_a_default_model_to_a_bare_url() -> None:
    assert parse_candidate(CandidateOptions(candidate=f"m@{URL}", engine=Engine.sglang)).value.engine == Engine.sglang
    assert parse_candidate(CandidateOptions(model_url=URL), default_model="default").value.model == "default"


@pytest.mark.parametrize(("options", "error"), [
    (CandidateOptions(), "give a CANDIDATE"),
    (CandidateOptions(model="smollm2"), "go together"),
    (CandidateOptions(model_url=URL), "go together"),
    (CandidateOptions(model="m", model_url="127.0.0.1:8301"), "not an http"),
    (CandidateOptions(candidate=f"m@{URL}", model="m"), "not both"),
])
def test_incomplete_or_doubled_candidates_are_refused(options: CandidateOptions, error: str) -> None:
    with pytest.raises(typer.BadParameter, match=error):
        parse_candidate(options)


def test_a_role_takes_a_file_or_model_at_url_and_the_old_url_slash_model_warns() -> None:
    assert parse_role(f"smollm2@{URL}", "--champion") == parse_role(f"smollm2@{URL}", "--teacher")
    assert parse_role(f"smollm2@{URL}", "--champion").value == SMOLLM2
    assert parse_role("champ.yaml", "--champion").value.path == Path("champ.yaml")
    assert parse_role(f"org/m@v2@{URL}", "--teacher").value == CandidateRef(model="org/m@v2", url=URL)
    old = parse_role(f"{URL}/smollm2", "--chosen-from")
    assert old.value == SMOLLM2 and old.deprecated == (f"--chosen-from URL/MODEL is deprecated; write "
                                                       f"--chosen-from smollm2@{URL}",)
    with pytest.raises(typer.BadParameter, match="MODEL@URL"):
        parse_role(URL, "--paraphraser")  # a URL without a model


def test_the_old_optimizer_pair_becomes_model_at_url() -> None:
    assert parse_legacy_pair("optimizer", None, None, "smollm2").value is None
    old = parse_legacy_pair("optimizer", URL, None, "smollm2")
    assert old.value == f"smollm2@{URL}" and "use --optimizer smollm2@" in old.deprecated[0]
    assert parse_legacy_pair("optimizer", URL, "qwen", "smollm2").value == f"qwen@{URL}"


def test_prompt_options_old_names_fill_the_new_fields_one_line_each() -> None:
    new = parse_prompt(PromptOptions(prompt_template="Q: {input}", prompt_style="completion", system_prompt="s"))
    old = parse_prompt(PromptOptions(template="Q: {input}", style="completion", system="s"))
    assert new.value == old.value == PromptShape("Q: {input}", "completion", "s") and new.deprecated == ()
    assert old.deprecated == ("--template is deprecated; use --prompt-template",
                              "--style is deprecated; use --prompt-style",
                              "--system is deprecated; use --system-prompt")
    both = parse_prompt(PromptOptions(prompt_style="chat", style="completion"))
    assert both.value.prompt_style == "chat" and len(both.deprecated) == 1  # the new spelling wins
    assert PromptShape(prompt_style="chat").given() == {"prompt_style": "chat"}


def test_a_spec_file_takes_the_commands_task_unless_it_names_one(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(f"name: c\nmodel: m\nengine: openai\nendpoint: {URL}\n")
    (tmp_path / "d.json").write_text(json.dumps({"name": "d", "model": "m", "task": "own", "engine": "openai",
                                                 "endpoint": URL}))
    assert load_spec(CandidateRef(path=tmp_path / "c.yaml"), "sentiment", "c.yaml").task == "sentiment"
    assert load_spec(CandidateRef(path=tmp_path / "d.json"), "sentiment", "d.json").task == "own"
    inline = load_spec(CandidateRef(model="org/Model 1", url=URL), "t", "x")
    assert (inline.name, inline.model, inline.engine) == ("org-Model-1", "org/Model 1", Engine.openai)
    with pytest.raises(typer.BadParameter, match="neither a candidate file nor MODEL@URL"):
        load_spec(CandidateRef(path=tmp_path / "missing.yaml"), "t", "missing.yaml")
