"""What the gateway checks in a request body before anything goes upstream: every refusal
says which field is wrong and why."""

import json

import pytest

from services.gateway.domain import openai_body as ob


def chat(**extra):
    return {"model": "bot", "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("body", [
    chat(),
    chat(stream=True, stream_options={"include_usage": True}, max_tokens=8, temperature=0, top_p=1, n=2,
         seed=-3, presence_penalty=-2, frequency_penalty=2.0, user="u", max_completion_tokens=4),
    chat(temperature=None, max_tokens=None, stream=None),  # null: the upstream's default
    chat(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant"}]),
    chat(logit_bias={"1": 2}, stop=["\n"]),  # other fields pass through untouched
])
def test_valid_chat_bodies_pass(body):
    assert ob.validation_error("chat", body) is None


@pytest.mark.parametrize(("body", "says"), [
    (chat(stream="yes"), "'stream' must be a boolean"),
    (chat(stream_options="x"), "'stream_options' must be an object"),
    (chat(max_tokens=0), "'max_tokens' must be an integer of at least 1"),
    (chat(max_tokens=True), "'max_tokens' must be an integer"),
    (chat(max_tokens=2.5), "'max_tokens' must be an integer"),
    (chat(temperature=3), "'temperature' must be a number from 0 to 2"),
    (chat(temperature="hot"), "'temperature' must be a number"),
    (chat(n=0), "'n' must be an integer from 1 to 128"),
    (chat(seed=1.5), "'seed' must be an integer"),
    (chat(user=7), "'user' must be a string"),
    (chat(messages=[{"content": "no role"}]), "'messages[0].role' must be a non-empty string"),
    (chat(messages=[{"role": "user", "content": 5}]), "'messages[0].content' must be a string"),
    (chat(messages=["hi"]), "'messages[0]' must be a message object"),
    (chat(messages=[]), "'messages' must be a non-empty list"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "'model' (the route name) is required"),
])
def test_each_bad_field_is_named_with_the_reason(body, says):
    problem = ob.validation_error("chat", body)
    assert problem is not None and says in problem


def test_completions_check_the_prompt_and_not_chat_only_fields():
    assert ob.validation_error("completions", {"model": "m", "prompt": ["a", "b"], "max_completion_tokens": 0}) is None
    assert "'prompt' must be" in ob.validation_error("completions", {"model": "m", "prompt": 3})
    assert "'top_p'" in ob.validation_error("completions", {"model": "m", "prompt": "a", "top_p": 2})


@pytest.mark.parametrize("raw", [b'{"model": "m", "temperature": NaN}', b'{"a": Infinity}', b"[" * 100_000,
                                 b"\xff\xfe", b'{"prompt": ["a\\ud882"]}', b'{"\\udc00": 1}'])
def test_strict_json_refuses_what_python_would_accept_or_choke_on(raw):
    with pytest.raises(ValueError):
        ob.parse_json(raw)


def test_escaped_surrogate_pairs_are_text_and_pass():
    assert ob.parse_json(b'{"prompt": "\\ud83d\\ude00"}') == {"prompt": "\U0001f600"}


def test_a_mid_stream_error_is_an_openai_shaped_sse_event():
    event = ob.stream_error_event("upstream died")
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert b'"message": "upstream died"' in event and b'"code": 502' in event


def _sse(*objs) -> bytes:
    return b"".join(b"data: " + (o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n\n" for o in objs)


ROLE = {"choices": [{"delta": {"role": "assistant", "content": ""}}]}
TOKEN = {"choices": [{"delta": {"content": "Hi"}}]}


@pytest.mark.parametrize(("raw", "begun"), [
    (_sse(ROLE), False),  # a role-only chunk tells the client nothing yet
    (_sse(ROLE, {"choices": []}), False),
    (_sse(ROLE) + b'data: {"choices": [{"delta": {"content": "H', False),  # the token is not whole yet
    (_sse(ROLE, TOKEN), True),
    (_sse(ROLE, TOKEN).replace(b"\n", b"\r\n"), True),
    (_sse(ROLE, b"[DONE]"), True),  # an empty answer is an answer
    (_sse({"error": {"message": "overloaded"}}), True),
    (_sse(b"not json"), True),
])
def test_a_stream_begins_with_its_first_token(raw, begun):
    assert ob.stream_has_begun("chat", raw) is begun


def test_a_completion_stream_begins_with_its_first_text():
    assert ob.stream_has_begun("completions", _sse({"choices": [{"text": ""}]})) is False
    assert ob.stream_has_begun("completions", _sse({"choices": [{"text": "a"}]})) is True
