"""Per-record features (the text descriptors the drift and quality rules look at). Pure."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.events.inference import InferenceLogged

REFUSAL_MARKERS = (
    "i can't", "i cannot", "i can not", "i'm sorry", "i am sorry", "i'm unable", "i am unable",
    "as an ai", "i won't", "i will not", "cannot help with", "can't help with", "not able to help",
)
NAN = float("nan")

# The numeric columns every record carries, in a fixed order (the drift frame's columns).
FEATURES = (
    "prompt_chars", "response_chars", "prompt_words", "response_words", "input_tokens", "output_tokens",
    "latency_ms", "ttft_ms", "refusal", "guardrail_hits", "json_valid", "error", "feedback", "judge",
)


@dataclass(frozen=True)
class Record:
    """One logged inference and what the monitor derived from it."""

    request_id: str
    route: str
    candidate_id: str
    prompt_version: str | None
    at: float
    prompt: str
    response: str
    status: str
    features: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Its fields, for JSON (a shallow copy: `dataclasses.asdict` deep-copies, and was a
        third of the monitor's per-record CPU)."""
        return dict(vars(self))

    def with_feature(self, name: str, value: float) -> Record:
        return replace(self, features={**self.features, name: value})


def is_refusal(text: str) -> bool:
    head = text.strip().lower().replace("\u2019", "'")[:200]
    return any(marker in head for marker in REFUSAL_MARKERS)


JSON_STARTS = frozenset('{["-0123456789tfnNI')  # what json.loads can accept first (after whitespace)


def is_json(text: str) -> bool:
    if text.lstrip()[:1] not in JSON_STARTS:  # most answers are prose: no parse attempt
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def word_count(text: str) -> int:
    return len(text.split())  # the runs of non-whitespace


def _opt(value: float | None) -> float:
    return NAN if value is None else float(value)


def extract(*, prompt: str, response: str, status: str, input_tokens: int, output_tokens: int,
            latency_ms: float, ttft_ms: float | None, guardrail_hits: int) -> dict[str, float]:
    return {
        "prompt_chars": float(len(prompt)),
        "response_chars": float(len(response)),
        "prompt_words": float(word_count(prompt)),
        "response_words": float(word_count(response)),
        "input_tokens": float(input_tokens),
        "output_tokens": float(output_tokens),
        "latency_ms": float(latency_ms),
        "ttft_ms": _opt(ttft_ms),
        "refusal": float(is_refusal(response)),
        "guardrail_hits": float(guardrail_hits),
        "json_valid": float(is_json(response)),
        "error": float(status != "ok"),
        "feedback": NAN,
        "judge": NAN,
    }


def present(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def record_of(event: InferenceLogged, at: float) -> Record:
    feats = extract(prompt=event.prompt, response=event.response, status=event.status,
                    input_tokens=event.input_tokens, output_tokens=event.output_tokens,
                    latency_ms=event.latency_ms, ttft_ms=event.ttft_ms, guardrail_hits=len(event.guardrail_hits))
    return Record(event.request_id, event.route, event.candidate_id, event.prompt_version, at,
                  event.prompt, event.response, event.status, feats)
