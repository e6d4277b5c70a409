"""Building load-test requests the way production builds them, and sizing them to a token target."""

import json

import pytest

from schemas.candidate import ProcessingStep
from schemas.task import TaskSpec
from services.loadtester.adapters.protocols import protocol_for
from services.loadtester.domain.profiles import prompt_of
from services.loadtester.domain.prompts import (
    CALIBRATION_WORDS,
    PromptShape,
    Sizing,
    estimate,
    fit,
    flatten,
    synthetic,
)
from shared.processing import ProcessingError
from shared.scoring.prompting import PromptError

TEMPLATE = ProcessingStep(op="template", args={"template": "Review: {input}\nSentiment:"})
TASK = TaskSpec(name="sentiment", prompt_template="Classify this. {input}", system_prompt="You label reviews.")


def server_tokens(content, chat_overhead: int = 7) -> int:
    """A stand-in server: whitespace tokens of everything sent, plus its chat template's tokens."""
    return len(flatten(content).split()) + (chat_overhead if isinstance(content, list) else 0)


def test_an_empty_shape_sends_the_input_alone_as_before():
    shape = PromptShape()
    assert shape.plain and shape.render("alpha bravo") == "alpha bravo"
    assert synthetic(shape, Sizing(), 17, salt=3) == (prompt_of(17, salt=3), 17)


def test_preprocess_then_the_task_template_then_the_system_prompt():
    messages = PromptShape((TEMPLATE,), TASK).render("great film", 0)
    assert messages == [{"role": "system", "content": "You label reviews."},
                        {"role": "user", "content": "Classify this. Review: great film\nSentiment:"}]


def test_completion_style_is_one_prompt_with_the_system_prompt_first():
    task = TASK.model_copy(update={"prompt_style": "completion"})
    shape = PromptShape((), task)
    assert shape.style == "completion"
    assert shape.render("x") == "You label reviews.\n\nClassify this. x"


def test_truncation_applies_before_the_template():
    trunc = ProcessingStep(op="truncate", args={"max_chars": 5})
    assert PromptShape((trunc, TEMPLATE)).render("abcdefghij") == [
        {"role": "user", "content": "Review: abcde\nSentiment:"}]


def test_fields_a_synthetic_item_lacks_render_empty():
    task = TaskSpec(name="t", prompt_template="Q: {input}\nChoices: {choices}\nA:")
    assert PromptShape((), task).render("why")[0]["content"] == "Q: why\nChoices: \nA:"


def test_a_broken_declaration_raises_with_the_reason():
    with pytest.raises(ProcessingError, match="template"):
        PromptShape((ProcessingStep(op="template", args={"template": "{input"}),)).render("x")
    with pytest.raises(ProcessingError, match="post-processing step"):
        PromptShape((ProcessingStep(op="strip"),)).render("x")
    with pytest.raises(PromptError):
        PromptShape((), TaskSpec(name="t", prompt_template="{input} {0}")).render("x")


def test_fit_recovers_the_line_and_hits_the_target_exactly():
    shape = PromptShape((TEMPLATE,), TASK)
    points = [(w, server_tokens(shape.render(prompt_of(w)))) for w in CALIBRATION_WORDS]
    sizing = fit(points)
    assert sizing.measured and sizing.tokens_per_word == pytest.approx(1.0)
    assert sizing.overhead_tokens == pytest.approx(7 + 3 + 2 + 2)  # chat, system, task template, preprocess
    for target in (20, 64, 333):
        content, expected = synthetic(shape, sizing, target, salt=target)
        assert server_tokens(content) == expected == target


def test_fit_handles_several_tokens_per_word():
    sizing = fit([(26, 10 + 2 * 26), (78, 10 + 2 * 78)])
    assert (sizing.tokens_per_word, sizing.overhead_tokens) == pytest.approx((2.0, 10.0))
    assert sizing.tokens_for(sizing.words_for(64)) == 64


def test_fit_refuses_what_cannot_be_a_line():
    assert fit([(26, 40)]) is None
    assert fit([(26, 40), (26, 41)]) is None
    assert fit([(26, 40), (78, 40)]) is None


def test_a_target_below_the_template_sends_one_word_and_says_how_many_tokens():
    content, expected = synthetic(PromptShape((TEMPLATE,)), Sizing(1.0, 30.0), 10, salt=0)
    assert content[0]["content"] == "Review: alpha\nSentiment:" and expected == 31


def test_estimate_counts_what_the_shape_adds():
    assert estimate(PromptShape()).overhead_tokens == 0
    sizing = estimate(PromptShape((TEMPLATE,), TASK))
    assert not sizing.measured and sizing.overhead_tokens >= 9


def test_protocols_carry_messages_or_flatten_them():
    messages = PromptShape((), TASK).render("hi")
    assert protocol_for("openai-chat").body("m", messages, 4)["messages"] == messages
    assert protocol_for("openai-chat").body("m", "hi", 4)["messages"] == [{"role": "user", "content": "hi"}]
    flat = "You label reviews.\n\nClassify this. hi"
    assert protocol_for("openai-completions").body("m", messages, 4)["prompt"] == flat
    assert protocol_for("sglang").body("m", messages, 4)["text"].startswith("You label reviews.")
    json.dumps(protocol_for("openai-chat").body("m", messages, 4))


def test_prompt_tokens_from_a_whole_reply():
    assert protocol_for("openai-chat").prompt_tokens({"usage": {"prompt_tokens": 12}}) == 12
    assert protocol_for("openai-completions").prompt_tokens({}) is None
    assert protocol_for("sglang").prompt_tokens({"meta_info": {"prompt_tokens": 9}}) == 9
