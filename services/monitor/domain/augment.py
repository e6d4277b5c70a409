"""Failures become data: perturbed, distracted and paraphrased variants of captured failing
samples, each keeping its provenance, with near-duplicates removed. Pure (paraphrases come in
from the caller, who asked a model for them)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

# Order matters for dedup: the first of the variants equal under normalization is kept.
PERTURBATIONS = ("typos", "reorder", "whitespace", "upper", "lower")
METHODS = ("perturb", "distractor", "paraphrase")
DISTRACTORS = (
    "By the way, the weather here has been lovely this week.",
    "Ignore the noise in the background; my neighbour is renovating.",
    "Unrelated: I also need to buy groceries later.",
    "Note: this message was typed on a phone.",
)
PARAPHRASE_PROMPT = "Rewrite the following text with different words but the same meaning. " \
                    "Reply with the rewritten text only.\n\n{text}"


@dataclass(frozen=True)
class Sample:
    """A captured (negative-labelled) sample; augmented ones name their origin."""

    id: str
    prompt: str
    response: str
    reason: str = ""
    route: str | None = None
    candidate_id: str | None = None
    prompt_version: str | None = None
    captured_at: str | None = None
    chosen: str | None = None
    chosen_by: str | None = None
    label: str = "negative"
    method: str | None = None
    origin_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _rng(sample: Sample, method: str) -> random.Random:
    return random.Random(f"{sample.id}/{method}")  # deterministic per sample and method


def typos(text: str, rng: random.Random, rate: float = 0.15) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < rate:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def reorder(text: str) -> str:
    """Move the last clause (sentence, or comma-separated part) to the front."""
    parts = [p for p in re.split(r"(?<=[.!?;])\s+", text.strip()) if p]
    if len(parts) < 2:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return ", ".join([parts[-1], *parts[:-1]]) if len(parts) > 1 else text
    return " ".join([parts[-1], *parts[:-1]])


def whitespace(text: str, rng: random.Random) -> str:
    return "  ".join(text.split(" ")) + rng.choice(("\n", " \n", "\t"))


def perturb(text: str, kind: str, rng: random.Random) -> str:
    return {"upper": lambda: text.upper(), "lower": lambda: text.lower(),
            "whitespace": lambda: whitespace(text, rng), "typos": lambda: typos(text, rng),
            "reorder": lambda: reorder(text)}[kind]()


def distract(text: str, rng: random.Random) -> str:
    noise = rng.choice(DISTRACTORS)
    return f"{noise} {text}" if rng.random() < 0.5 else f"{text} {noise}"


def variant(origin: Sample, method: str, prompt: str) -> Sample:
    return replace(origin, id=f"{origin.id}~{method}", prompt=prompt, method=method, origin_id=origin.id,
                   extra={**origin.extra, "origin_prompt": origin.prompt})


def perturbations(sample: Sample, kinds: Sequence[str] = PERTURBATIONS) -> list[Sample]:
    return [variant(sample, kind, perturb(sample.prompt, kind, _rng(sample, kind))) for kind in kinds]


def distractors(sample: Sample) -> list[Sample]:
    return [variant(sample, "distractor", distract(sample.prompt, _rng(sample, "distractor")))]


def paraphrased(sample: Sample, texts: Iterable[str]) -> list[Sample]:
    return [variant(sample, f"paraphrase{i}", t.strip()) for i, t in enumerate(texts) if t.strip()]


def normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def ngrams(text: str, n: int = 3) -> set[str]:
    return {text[i:i + n] for i in range(max(len(text) - n + 1, 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def dedup(originals: Sequence[Sample], variants: Sequence[Sample], threshold: float = 0.95) -> tuple[list[Sample], int]:
    """Drop variants whose normalized text equals an original's or an earlier variant's, or
    whose character-3-gram Jaccard similarity with an earlier kept variant is >= threshold.
    (Originals are compared by exact text only: a casing variant is the point, not a copy.)"""
    exact = {o.prompt.strip() for o in originals}
    kept: list[Sample] = []
    keys: set[str] = set()
    grams: list[set[str]] = []
    for v in variants:
        key = normalized(v.prompt)
        g = ngrams(key)
        if v.prompt.strip() in exact or key in keys or any(jaccard(g, k) >= threshold for k in grams):
            continue
        kept.append(v)
        keys.add(key)
        grams.append(g)
    return kept, len(variants) - len(kept)


def augment(samples: Sequence[Sample], methods: Sequence[str],
            paraphrases: dict[str, list[str]] | None = None, threshold: float = 0.95) -> tuple[list[Sample], int]:
    """All variants of `samples` by `methods`, deduplicated; returns (kept, removed)."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown augmentation method(s) {sorted(unknown)}; known: {', '.join(METHODS)}")
    out: list[Sample] = []
    for s in samples:
        out += perturbations(s) if "perturb" in methods else []
        out += distractors(s) if "distractor" in methods else []
        out += paraphrased(s, (paraphrases or {}).get(s.id, [])) if "paraphrase" in methods else []
    return dedup(samples, out, threshold)
