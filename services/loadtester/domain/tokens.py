"""How many tokens each streamed chunk carried, from what the protocol tells us."""

from __future__ import annotations


def split_tokens(chunk_chars: list[int], total: int | None) -> list[int]:
    """Tokens per content chunk. With a known total (usage / meta_info), one per chunk when
    they match, else the total spread over chunks by their length (largest remainder),
    at least one each. Without a total, one token per chunk."""
    n = len(chunk_chars)
    if total is None or n == 0 or total == n:
        return [1] * n
    if total < n:
        return [1] * n
    chars = sum(chunk_chars) or n
    spare = total - n
    exact = [spare * (c or 1) / chars for c in chunk_chars]
    base = [int(x) for x in exact]
    order = sorted(range(n), key=lambda i: exact[i] - base[i], reverse=True)
    for i in order[: spare - sum(base)]:
        base[i] += 1
    return [b + 1 for b in base]


def from_cumulative(counts: list[int]) -> list[int]:
    """Per-chunk tokens from cumulative counts (SGLang meta_info.completion_tokens)."""
    out, prev = [], 0
    for c in counts:
        out.append(max(1, c - prev))
        prev = max(prev, c)
    return out
