import json

import pytest

from services.loadtester.adapters.client import _Stream
from services.loadtester.adapters.protocols import protocol_for
from services.loadtester.domain.profiles import LengthProfile, parse_profile, prompt_of
from services.loadtester.domain.records import RequestRecord


def sse(obj) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_openai_chat_role_chunk_is_not_content_and_usage_sets_tokens():
    rec = RequestRecord(0.0, 0.0)
    s = _Stream(protocol_for("openai-chat"), rec)
    s.feed(sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]}), 0.01)
    s.feed(sse({"choices": [{"delta": {"content": " a b"}}]}) + sse({"choices": [{"delta": {"content": " c"}}]}), 0.1)
    s.feed(sse({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}) + b"data: [DONE]\n\n", 0.2)
    s.finish()
    assert rec.chunk_times == [0.1, 0.1]
    assert rec.chunk_tokens == [2, 1]
    assert (rec.output_tokens, rec.input_tokens, rec.tokens_from_usage) == (3, 7, True)
    assert s.done


def test_event_split_across_reads():
    rec = RequestRecord(0.0, 0.0)
    s = _Stream(protocol_for("openai-completions"), rec)
    raw = sse({"choices": [{"text": " x"}]})
    s.feed(raw[:10], 0.1)
    assert rec.chunk_times == []
    s.feed(raw[10:], 0.2)
    assert rec.chunk_times == [0.2]


def test_sglang_cumulative_text_and_tokens():
    rec = RequestRecord(0.0, 0.0)
    s = _Stream(protocol_for("sglang"), rec)
    s.feed(sse({"text": " a b", "meta_info": {"completion_tokens": 2, "prompt_tokens": 4}}), 0.1)
    s.feed(sse({"text": " a b c", "meta_info": {"completion_tokens": 3, "prompt_tokens": 4}}), 0.2)
    s.finish()
    assert rec.chunk_tokens == [2, 1]
    assert rec.output_tokens == 3


def test_malformed_event_marks_the_record_and_keeps_reading():
    rec = RequestRecord(0.0, 0.0)
    s = _Stream(protocol_for("openai-chat"), rec)
    s.feed(b'data: {"choices": [\n\n' + sse({"choices": [{"delta": {"content": "z"}}]}), 0.1)
    assert rec.error == "malformed_sse"
    assert rec.chunk_times == [0.1]
    not_an_object = RequestRecord(0.0, 0.0)
    _Stream(protocol_for("sglang"), not_an_object).feed(b"data: [1, 2]\n\n", 0.1)
    assert not_an_object.error == "malformed_sse"


def test_error_event_is_an_error():
    rec = RequestRecord(0.0, 0.0)
    _Stream(protocol_for("openai-chat"), rec).feed(sse({"error": {"message": "boom"}}), 0.1)
    assert rec.error == "stream_error"


def test_request_bodies():
    assert protocol_for("openai-chat").body("m", "p", 5)["stream_options"] == {"include_usage": True}
    assert protocol_for("sglang").body("m", "p", 5)["sampling_params"]["max_new_tokens"] == 5
    with pytest.raises(ValueError):
        protocol_for("grpc")


def test_profiles():
    assert parse_profile("64:32") == LengthProfile("fixed", 64, 32)
    uni = parse_profile("10-20:5-8")
    pairs = uni.sample(200, seed=1)
    assert all(10 <= i <= 20 and 5 <= o <= 8 for i, o in pairs)
    assert len({p for p in pairs}) > 10
    assert LengthProfile("dataset", pairs=((3, 4), (5, 6))).sample(3) == [(3, 4), (5, 6), (3, 4)]
    assert len(prompt_of(17).split()) == 17
