"""Where a stream can still fall back: up to its first token. An upstream that sends its
role-only chunk and dies before the first token has told the client nothing, so the gateway
takes the request to the fallback; one that dies after a token ends the client's stream with
an SSE error event, in a well-formed response."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.scripted_llm import start_scripted_llm

from .conftest import chat, running_gateway, target


def _deltas(raw: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]


async def test_a_stream_whose_upstream_dies_before_its_first_token_falls_back(broker, tmp_path: Path, uid):
    dies = {"midstream_error_rate": 1.0, "midstream_mode": "abort", "ttft_ms": 20, "itl_ms": 5}
    with start_scripted_llm(fail_after_tokens=0, **dies) as before_token, \
            start_scripted_llm(fail_after_tokens=2, **dies) as after_token, \
            start_scripted_llm(model="backup", ttft_ms=20, itl_ms=5, output_tokens=4) as backup:
        routes = {f"early-{uid}": {"targets": [target("early", before_token.url)],
                                   "fallbacks": [target("backup", backup.url)]},
                  f"late-{uid}": {"targets": [target("late", after_token.url)],
                                  "fallbacks": [target("backup", backup.url)]}}
        async with running_gateway(broker, tmp_path, routes) as gw:
            async with gw.stream("POST", "/v1/chat/completions", json=chat(f"early-{uid}", "hi", stream=True)) as s:
                early = b"".join([c async for c in s.aiter_bytes()])
                assert s.status_code == 200 and s.headers["x-challenger-target"] == "backup"
            async with gw.stream("POST", "/v1/chat/completions", json=chat(f"late-{uid}", "hi", stream=True)) as s:
                late = b"".join([c async for c in s.aiter_bytes()])
                assert s.status_code == 200 and s.headers["x-challenger-target"] == "late"

    text = "".join(d["choices"][0]["delta"].get("content", "") for d in _deltas(early) if d.get("choices"))
    assert text == " w0 w1 w2 w3" and early.rstrip().endswith(b"data: [DONE]")
    events = _deltas(late)
    assert [e["choices"][0]["delta"]["content"] for e in events[1:-1]] == [" w0", " w1"]
    assert events[-1]["error"]["type"] == "upstream_error" and b"[DONE]" not in late
