import pytest
import typer

from schemas.task import TaskSpec
from services.cli.options import PromptShape, load_candidate
from services.evaluator.entrypoints.cli import resolve_task
from services.evaluator.handlers.labelling import label_from


def test_model_at_url_shorthand():
    spec = load_candidate("smollm2@http://127.0.0.1:8301", "sentiment")
    assert (spec.name, spec.model, spec.engine, str(spec.endpoint)) == ("smollm2", "smollm2", "openai",
                                                                         "http://127.0.0.1:8301/")
    with pytest.raises(typer.BadParameter, match="MODEL@URL"):
        load_candidate("no-such-file.yaml", "t")


def test_builtin_task_with_flag_overrides():
    spec, datasets = resolve_task("sentiment", [], "choice", "pos,neg", PromptShape(prompt_style="completion"))
    assert spec.metric_args["labels"] == ["pos", "neg"] and spec.prompt_style == "completion"
    assert len(datasets["sentiment"]) > 10
    with pytest.raises(typer.BadParameter):
        resolve_task(None, [], None, None, PromptShape())
    with pytest.raises(typer.BadParameter):
        resolve_task("sentiment", [], "bleu", None, PromptShape())


def test_silver_label_extraction():
    task = TaskSpec(name="t", metric="choice", metric_args={"labels": ["positive", "negative"]})
    assert label_from(task, "It is Negative.") == "negative"
    assert label_from(task, "no idea") is None
    assert label_from(TaskSpec(name="t"), "  Paris \n") == "Paris"
