"""A target's serving profile applied to requests and answers: the evaluator's prompt, the
candidate's steps, the API translation and the replayed stream."""

import json

import pytest

from schemas.candidate import Decoding, ProcessingStep
from schemas.events.deployments import ServingProfile
from schemas.task import DatasetItem, TaskSpec
from services.gateway.domain.serving import (
    ServingError,
    as_sse,
    client_answer,
    needs_whole_answer,
    upstream_request,
)
from shared.scoring.prompting import build_request, prepared_item

LABELS = ProcessingStep(op="label_map", args={"map": {"pos": "positive", "neg": "negative"}, "default": "unknown"})
TEMPLATE = "Review: {input}\nSentiment:"
PROFILE = ServingProfile(prompt_template=TEMPLATE, system_prompt="Be terse.", postprocess=[LABELS],
                         preprocess=[ProcessingStep(op="truncate", args={"max_chars": 20})])


def chat(*contents: str, **extra):
    return {"model": "route", "messages": [{"role": "user", "content": c} for c in contents], **extra}


def chat_reply(*texts: str):
    return {"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                        for i, t in enumerate(texts)], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}


def test_no_profile_forwards_the_request_and_answer_as_sent():
    body = chat("hi", temperature=0.3)
    assert upstream_request("chat", body, None).body is body
    assert client_answer("chat", "chat", chat_reply("x"), None) == chat_reply("x")
    assert not needs_whole_answer("chat", None)


def test_the_gateway_builds_exactly_the_evaluators_prompt():
    """Same template, system prompt, pre-processing and decoding as build_request on a text item."""
    for style in ("chat", "completion"):
        profile = PROFILE.model_copy(update={"prompt_style": style, "decoding": Decoding(max_tokens=5, stop=["\n"])})
        task = TaskSpec(name="t", prompt_template=TEMPLATE, system_prompt="Be terse.", prompt_style=style)
        text = "a very long review that goes on and on"
        expected = build_request(task, prepared_item(profile.preprocess, DatasetItem(id="1", input=text)),
                                 profile.decoding)  # type: ignore[arg-type]
        up = upstream_request("chat", chat(text), profile)
        if style == "chat":
            assert up.kind == "chat" and up.body["messages"] == expected.messages
        else:
            assert up.kind == "completions" and up.body["prompt"] == expected.prompt and "messages" not in up.body
        assert (up.body["max_tokens"], up.body["stop"], up.body["temperature"]) == (5, ["\n"], 0.0)


def test_decoding_fills_only_what_the_client_left_out():
    profile = ServingProfile(decoding=Decoding(temperature=0.0, max_tokens=8, seed=7))
    body = upstream_request("chat", chat("hi", temperature=0.9, max_completion_tokens=3), profile).body
    assert body["temperature"] == 0.9 and body["seed"] == 7 and "max_tokens" not in body
    assert body["max_completion_tokens"] == 3 and "stop" not in body


def test_conversations_go_as_the_evaluator_sends_chat_items():
    convo = {"model": "route", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                            {"role": "user", "content": "pos?"}]}
    up = upstream_request("chat", convo, PROFILE)
    assert up.body["messages"] == [{"role": "system", "content": "Be terse."}, *convo["messages"]]
    completion = upstream_request("chat", convo, PROFILE.model_copy(update={"prompt_style": "completion"}))
    assert completion.body["prompt"] == "Be terse.\n\nuser: hi\nassistant: yo\nuser: pos?"


def test_completion_requests_and_content_parts_are_text_inputs():
    up = upstream_request("completions", {"model": "r", "prompt": ["great"], "logprobs": 2}, PROFILE)
    assert up.kind == "chat" and up.body["messages"][-1]["content"] == "Review: great\nSentiment:"
    assert "logprobs" not in up.body  # a completion-only field does not cross to the chat API
    parts = {"model": "r", "messages": [{"role": "user", "content": [{"type": "text", "text": "ok"}]}]}
    assert upstream_request("chat", parts, PROFILE).body["messages"][-1]["content"] == "Review: ok\nSentiment:"


@pytest.mark.parametrize(("kind", "body", "profile", "reason"), [
    ("chat", chat("x"), ServingProfile(prompt_template="{input} {labels}"), "template field 'labels'"),
    ("chat", chat("x"), ServingProfile(preprocess=[LABELS]), "post-processing step"),
    ("completions", {"model": "r", "prompt": ["a", "b"]}, ServingProfile(), "list of prompts"),
])
def test_a_profile_that_cannot_apply_says_why(kind, body, profile, reason):
    with pytest.raises(ServingError, match=reason):
        upstream_request(kind, body, profile)


def test_answers_are_post_processed_and_translated_to_the_clients_api():
    served = client_answer("chat", "chat", chat_reply("pos", "Neg."), PROFILE)
    assert [c["message"]["content"] for c in served["choices"]] == ["positive", "negative"]
    completion = {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": " pos\n", "finish_reason":
                                                                         "stop"}]}
    as_chat = client_answer("chat", "completions", completion, PROFILE)
    assert as_chat["object"] == "chat.completion"
    assert as_chat["choices"] == [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": "positive"}}]
    as_text = client_answer("completions", "chat", chat_reply("meh"), PROFILE)
    assert as_text["choices"][0]["text"] == "unknown" and as_text["object"] == "text_completion"
    assert needs_whole_answer("chat", PROFILE) and needs_whole_answer("chat", ServingProfile(prompt_style="completion"))
    assert not needs_whole_answer("chat", ServingProfile(prompt_template=TEMPLATE))


def test_a_failing_post_processing_step_or_a_malformed_answer_says_why():
    bad = PROFILE.model_copy(update={"postprocess": [ProcessingStep(op="regex_extract", args={"pattern": "("})]})
    with pytest.raises(ServingError, match="post-processing: bad regex"):
        client_answer("chat", "chat", chat_reply("x"), bad)
    with pytest.raises(ServingError, match="no choices"):
        client_answer("chat", "chat", {"error": "x"}, PROFILE)


def test_a_whole_answer_replays_as_the_stream_the_client_asked_for():
    raw = as_sse("chat", client_answer("chat", "chat", chat_reply("pos"), PROFILE), include_usage=True)
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "positive"}
    assert events[1]["choices"][0]["finish_reason"] == "stop" and events[2]["usage"]["completion_tokens"] == 1
    assert raw.endswith(b"data: [DONE]\n\n")
    text = as_sse("completions", {"choices": [{"text": "positive", "finish_reason": "stop"}]}, include_usage=True)
    assert b'"text": "positive"' in text and b"usage" not in text
