from services.prompt_optimizer.domain.style import style_for


def test_a_model_that_never_answers_the_chat_prompt_is_optimized_with_completion_prompts() -> None:
    assert style_for("chat", [0.0, 0.0, 0.0, 0.0]) == "completion"


def test_any_right_chat_answer_keeps_the_chat_style() -> None:
    assert style_for("chat", [0.0, 1.0, 0.0, 0.0]) == "chat"
    assert style_for("chat", [0.0]) == "chat"  # too little evidence
    assert style_for("completion", [0.0, 0.0]) == "completion"
