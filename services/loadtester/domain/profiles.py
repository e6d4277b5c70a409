"""Input/output length profiles and synthetic prompts with a known token count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
         "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform",
         "victor", "whiskey", "xray", "yankee", "zulu")


@dataclass(frozen=True)
class LengthProfile:
    """fixed: (input, output); uniform: each drawn in [lo, hi]; dataset: pairs given."""

    kind: str = "fixed"
    input_tokens: int = 64
    output_tokens: int = 32
    input_max: int | None = None
    output_max: int | None = None
    pairs: tuple[tuple[int, int], ...] = ()

    def sample(self, n: int, seed: int = 0) -> list[tuple[int, int]]:
        if self.kind == "fixed":
            return [(self.input_tokens, self.output_tokens)] * n
        if self.kind == "uniform":
            rng = np.random.default_rng(seed)
            ins = rng.integers(self.input_tokens, (self.input_max or self.input_tokens) + 1, n)
            outs = rng.integers(self.output_tokens, (self.output_max or self.output_tokens) + 1, n)
            return list(zip(ins.tolist(), outs.tolist(), strict=True))
        if self.kind == "dataset":
            if not self.pairs:
                raise ValueError("dataset profile without lengths")
            return [self.pairs[i % len(self.pairs)] for i in range(n)]
        raise ValueError(f"unknown length profile {self.kind!r}")


def prompt_of(tokens: int, salt: int = 0) -> str:
    """A prompt of `tokens` words; the salt varies the start so prefix caches do not flatter."""
    return " ".join(WORDS[(salt + i) % len(WORDS)] for i in range(max(1, tokens)))


def dataset_profile(rows: list[dict[str, object]]) -> LengthProfile:
    """Lengths taken from dataset rows: `input_tokens`/`output_tokens`, or the word counts
    of `prompt`/`input` and `completion`/`output`/`expected`."""
    pairs = []
    for row in rows:
        i = row.get("input_tokens") or len(str(row.get("prompt") or row.get("input") or "").split())
        o = row.get("output_tokens") or len(str(row.get("completion") or row.get("output")
                                                or row.get("expected") or "").split())
        pairs.append((max(1, int(i)), max(1, int(o))))  # type: ignore[call-overload]
    if not pairs:
        raise ValueError("dataset has no rows")
    return LengthProfile("dataset", pairs[0][0], pairs[0][1], pairs=tuple(pairs))


def parse_profile(text: str) -> LengthProfile:
    """'64:32' fixed, '32-128:16-64' uniform."""
    inp, _, out = text.partition(":")
    if not out:
        raise ValueError("length profile is INPUT:OUTPUT, e.g. 64:32 or 32-128:16-64")
    lo_in, _, hi_in = inp.partition("-")
    lo_out, _, hi_out = out.partition("-")
    if hi_in or hi_out:
        return LengthProfile("uniform", int(lo_in), int(lo_out), int(hi_in or lo_in), int(hi_out or lo_out))
    return LengthProfile("fixed", int(lo_in), int(lo_out))
