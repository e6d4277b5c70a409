"""The one SSE parser: framing into complete events, and one `data:` line into its object."""

import pytest

from shared.engines.sse import DONE, complete_lines, sse_data
from shared.engines.types import EngineError


def test_only_complete_events_are_read_and_the_rest_is_kept():
    lines, rest = complete_lines(b'data: {"a": 1}\n\ndata: {"b"')
    assert (lines, rest) == ([b'data: {"a": 1}'], b'data: {"b"')
    lines, rest = complete_lines(rest + b': 2}\n\n')
    assert (lines, rest) == ([b'data: {"b": 2}'], b"")
    assert complete_lines(b'data: {"a": 1}\n') == ([], b'data: {"a": 1}\n')


def test_crlf_line_ends_frame_events_too():
    lines, rest = complete_lines(b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n')
    assert [sse_data(line) for line in lines] == [{"a": 1}, None, DONE]
    assert rest == b""


def test_comments_blank_lines_and_other_fields_carry_nothing():
    lines, _ = complete_lines(b': keep-alive\n\nevent: message\nid: 7\ndata:\ndata: {"x": 1}\n\n')
    assert [sse_data(line) for line in lines] == [None, None, None, None, None, {"x": 1}]


def test_done_ends_the_stream():
    assert sse_data(b"data: [DONE]") is DONE
    assert sse_data(b"data:[DONE]  ") is DONE


@pytest.mark.parametrize("line", [b'data: {"choices": [', b"data: not json", b"data: [1, 2]", b'data: "text"'])
def test_data_that_is_not_a_json_object_is_a_protocol_error(line):
    with pytest.raises(EngineError) as err:
        sse_data(line)
    assert err.value.kind == "protocol"
