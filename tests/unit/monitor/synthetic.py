"""A synthetic production stream with a known shift point, for the monitor's tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from schemas import Envelope, new_event
from schemas.events.inference import InferenceLogged

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOPICS = ["the capital of France", "a haiku about rain", "how to boil an egg", "the sum of 17 and 25"]


def logged(i: int, *, route: str, candidate: str, shifted: bool, rng: random.Random,
           prefix: str = "r") -> Envelope[InferenceLogged]:
    topic = rng.choice(TOPICS)
    if shifted:  # the model starts refusing, slowly, on longer prompts
        prompt = f"Please, in great detail and with examples, tell me about {topic}. " * 3
        response = "I'm sorry, but I can't help with that."
        latency = rng.gauss(2400, 200)
    else:
        prompt = f"Tell me about {topic}."
        response = f"Here is what I know about {topic}: " + "word " * rng.randint(10, 30)
        latency = rng.gauss(400, 40)
    data = InferenceLogged(request_id=f"{prefix}{i}", route=route, candidate_id=candidate, prompt_version="pv1",
                           prompt=prompt, response=response, input_tokens=len(prompt) // 4,
                           output_tokens=len(response) // 4, latency_ms=max(latency, 1.0),
                           ttft_ms=max(latency / 4, 1.0))
    env = new_event(data, source="test/synthetic")
    return env.model_copy(update={"time": T0 + timedelta(seconds=i)})


def stream(n: int, *, shift_at: int | None, route: str = "qa", candidate: str = "cand-a", seed: int = 7,
           prefix: str = "r") -> list[Envelope[InferenceLogged]]:
    rng = random.Random(seed)
    return [logged(i, route=route, candidate=candidate, shifted=shift_at is not None and i >= shift_at,
                   rng=rng, prefix=prefix) for i in range(n)]
