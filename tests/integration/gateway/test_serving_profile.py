"""A route target's serving profile through the real gateway, real upstream processes (a
real llama.cpp model among them) and a real broker: the client gets the mapped label, and
what the gateway logs for the monitor is the same on the staging and the production route."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events.inference import InferenceLogged

from .conftest import answer, chat, events, running_gateway

LABELS = {"op": "label_map", "args": {"map": {"positive": "positive", "negative": "negative"}, "default": "unknown"}}
FEWSHOT = ("Review: I love it\nSentiment: positive\n\nReview: It broke\nSentiment: negative\n\n"
           "Review: {input}\nSentiment:")


def profiled(cid: str, url: str, model: str, **serving: object) -> dict[str, object]:
    return {"candidate_id": cid, "url": url, "model": model, "prompt_version": "pv-1", "serving": serving}


async def test_a_real_model_behind_a_template_and_label_map_answers_the_label(broker, smollm2_url, tmp_path: Path):
    serving = {"prompt_template": "Is this product review positive or negative?\nReview: {input}\nAnswer:",
               "system_prompt": "Answer with one word: positive or negative.",
               "decoding": {"temperature": 0.0, "max_tokens": 6, "seed": 7}, "postprocess": [LABELS]}
    routes = {"sent": {"targets": [profiled("smol", smollm2_url, "smollm2", **serving)]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat("sent", "I love this blender, it works perfectly."))
        assert r.status_code == 200, r.text
        assert answer(r) == "positive"  # the model's words (greedy), mapped to the label
        async with gw.stream("POST", "/v1/chat/completions", json=chat("sent", "Awful. It broke.", stream=True)) as s:
            raw = b"".join([c async for c in s.aiter_bytes()])
        deltas = [json.loads(line[6:])["choices"] for line in raw.decode().splitlines() if line.startswith("data: {")]
        assert "".join(c[0]["delta"].get("content", "") for c in deltas if c) in {"positive", "negative"}


async def test_completion_style_target_and_what_the_monitor_compares(broker, upstreams, tmp_path: Path, uid):
    base = upstreams("base", "--answer", " Positive\n\nReview: something else")
    serving = {"prompt_template": FEWSHOT, "prompt_style": "completion", "postprocess": [LABELS],
               "decoding": {"max_tokens": 4, "stop": ["\n"]}}
    target = profiled("derived", base.url, "gemma3", **serving)
    routes = {f"sent-{uid}": {"targets": [target]}, f"sent-{uid}-staging": {"targets": [target]}}
    review = "Sturdy and quiet, does the job."
    async with running_gateway(broker, tmp_path, routes) as gw:
        for route in (f"sent-{uid}-staging", f"sent-{uid}"):  # the staging evaluation, then a production user
            r = await gw.post("/v1/chat/completions", json=chat(route, review))
            assert r.status_code == 200 and answer(r) == "positive" and r.json()["object"] == "chat.completion"
        r = await gw.post("/v1/completions", json={"model": f"sent-{uid}", "prompt": review})
        assert r.json()["choices"][0]["text"] == "positive"
        sent = (await gw.get(f"{base.url}/stats")).json()["bodies"]
    assert [b["prompt"] for b in sent] == [FEWSHOT.format(input=review)] * 3  # the completion API, as evaluated
    assert all(b["stop"] == ["\n"] and b["max_tokens"] == 4 and "messages" not in b for b in sent)

    logged = await events(broker, InferenceLogged.topic, lambda e: e.type == InferenceLogged.event_type
                          and e.data.route.startswith(f"sent-{uid}"), 3)
    seen = {(e.data.route, e.data.prompt, e.data.response, e.data.prompt_version) for e in logged}
    # staging and production log the same thing: the user's input and the answer they got
    assert seen == {(f"sent-{uid}-staging", review, "positive", "pv-1"), (f"sent-{uid}", review, "positive", "pv-1")}


async def test_a_profile_that_cannot_apply_is_a_clear_error_and_the_gateway_keeps_serving(
        broker, upstreams, tmp_path: Path):
    up = upstreams("up")
    broken = profiled("cand", up.url, "m", prompt_template="{input} ({labels})")
    routes = {"broken": {"targets": [broken]},
              "fine": {"targets": [profiled("cand", up.url, "m", prompt_template="Q: {input}")]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat("broken", "hi"))
        assert r.status_code == 503 and "template field 'labels'" in r.json()["error"]["message"]
        r = await gw.post("/v1/chat/completions", json=chat("fine", "hi"))
        assert r.status_code == 200 and answer(r) == "up says: Q: hi"
    assert up.calls() == 1


async def test_a_base_model_answers_through_its_completion_prompt(broker, gemma3_url, tmp_path: Path):
    """The demo's challenger: a base model that answers nothing useful in chat, served with the
    completion-style few-shot prompt its optimization found."""
    serving = {"prompt_template": FEWSHOT, "prompt_style": "completion", "postprocess": [LABELS],
               "decoding": {"temperature": 0.0, "max_tokens": 3, "stop": ["\n"]}}
    routes = {"base": {"targets": [profiled("gemma", gemma3_url, "gemma3", **serving)]}}
    async with running_gateway(broker, tmp_path, routes) as gw:
        r = await gw.post("/v1/chat/completions", json=chat("base", "Wonderful kettle, I use it every day."))
        assert r.status_code == 200 and answer(r) == "positive", r.text
