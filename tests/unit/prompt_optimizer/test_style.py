from services.prompt_optimizer.domain.style import style_for


def test_a_model_that_answers_nothing_in_chat_is_optimized_with_completion_prompts() -> None:
    assert style_for("chat", ["", "  ", "\n", ""]) == "completion"


def test_any_chat_answer_keeps_the_chat_style() -> None:
    assert style_for("chat", ["", "positive", "", ""]) == "chat"
    assert style_for("chat", []) == "chat"
    assert style_for("completion", ["", ""]) == "completion"
