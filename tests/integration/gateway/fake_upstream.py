"""A small OpenAI-compatible upstream for the gateway's integration tests, run as its own
process so a test can kill it mid-traffic. Markers in the last prompt pick the answer:
[json] a JSON object, [notjson] prose, [leak] an e-mail address, [refuse] a refusal,
[slow] a 2 s delay (--delay-s delays every answer, --answer fixes it). Otherwise it answers
"<name> says: <prompt>". GET /stats counts calls."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import web

ANSWERS = {"[json]": '{"ok": true}', "[notjson]": "this is not json", "[leak]": "mail me at bob@example.com",
           "[refuse]": "I'm sorry, but I can't help with that."}


def _prompt(kind: str, body: dict) -> str:
    if kind == "chat":
        return str(body["messages"][-1].get("content", ""))
    return str(body.get("prompt", ""))


def _answer(name: str, prompt: str) -> str:
    for marker, answer in ANSWERS.items():
        if marker in prompt:
            return answer
    return f"{name} says: {prompt}"


def _completion(kind: str, model: str, text: str) -> dict:
    choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
              if kind == "chat" else {"index": 0, "text": text, "finish_reason": "stop"})
    return {"id": "cmpl-1", "object": "chat.completion" if kind == "chat" else "text_completion",
            "created": int(time.time()), "model": model, "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": len(text.split()), "total_tokens": 5}}


def _chunk(kind: str, model: str, piece: str) -> bytes:
    choice = {"index": 0, "delta": {"content": piece}} if kind == "chat" else {"index": 0, "text": piece}
    return b"data: " + json.dumps({"id": "c", "model": model, "choices": [choice]}).encode() + b"\n\n"


def make_app(name: str, delay_s: float = 0.0, fixed: str | None = None) -> web.Application:
    stats = {"calls": 0, "bodies": []}

    async def generate(request: web.Request, kind: str) -> web.StreamResponse:
        body = await request.json()
        stats["calls"] += 1
        stats["bodies"].append(body)
        del stats["bodies"][:-50]
        prompt = _prompt(kind, body)
        if "[slow]" in prompt or delay_s:
            await asyncio.sleep(delay_s or 2)
        text = fixed if fixed is not None else _answer(name, prompt)
        if not body.get("stream"):
            return web.json_response(_completion(kind, body["model"], text))
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for i, word in enumerate(text.split(" ")):
            await resp.write(_chunk(kind, body["model"], word if i == 0 else " " + word))
        usage = {"prompt_tokens": 5, "completion_tokens": len(text.split()), "total_tokens": 5}
        await resp.write(b"data: " + json.dumps({"id": "c", "choices": [], "usage": usage}).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", lambda r: generate(r, "chat"))
    app.router.add_post("/v1/completions", lambda r: generate(r, "completions"))
    app.router.add_get("/stats", lambda r: web.json_response(stats))
    app.router.add_get("/health", lambda r: web.json_response({"status": "ok"}))
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="upstream")
    parser.add_argument("--delay-s", type=float, default=0.0, help="answer every request this late")
    parser.add_argument("--answer", default=None, help="answer every request with this text")
    args = parser.parse_args()
    web.run_app(make_app(args.name, args.delay_s, args.answer), host="127.0.0.1", port=args.port, print=None)
