import pytest

from schemas.candidate import Decoding
from schemas.task import DatasetItem, TaskSpec
from shared.scoring.prompting import PromptError, build_request


def test_chat_style_with_system_prompt_and_template():
    task = TaskSpec(name="t", prompt_template="Q: {input} ({topic})", system_prompt="Be brief.")
    item = DatasetItem(id="1", input="2+2?", expected="4", metadata={"topic": "math"})
    req = build_request(task, item, Decoding(temperature=0.2, max_tokens=8, stop=["\n"]))
    assert req.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: 2+2? (math)"}]
    assert (req.temperature, req.max_tokens, req.stop) == (0.2, 8, ["\n"])


def test_completion_style_and_overrides():
    task = TaskSpec(name="t", prompt_style="completion", prompt_template="Review: {input}\nLabel:")
    item = DatasetItem(id="1", input="great")
    req = build_request(task, item, Decoding(seed=1), temperature=0.7, seed=9)
    assert req.prompt == "Review: great\nLabel:" and req.messages is None
    assert (req.temperature, req.seed) == (0.7, 9)


def test_chat_messages_input_keeps_own_system():
    task = TaskSpec(name="t", system_prompt="ignored")
    item = DatasetItem(id="1", input=[{"role": "system", "content": "own"}, {"role": "user", "content": "hi"}])
    assert build_request(task, item, Decoding()).messages[0]["content"] == "own"


def test_template_field_missing_or_expected_not_leaked():
    item = DatasetItem(id="1", input="x", expected="secret")
    with pytest.raises(PromptError, match="expected"):
        build_request(TaskSpec(name="t", prompt_template="{input} {expected}"), item, Decoding())
    with pytest.raises(PromptError):
        build_request(TaskSpec(name="t", prompt_template="{input"), item, Decoding())
