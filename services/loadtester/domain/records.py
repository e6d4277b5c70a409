"""What one request left behind: timestamps and token counts, nothing derived yet."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RequestRecord:
    """Times are seconds on one monotonic clock (time.perf_counter)."""

    scheduled: float  # when the arrival process wanted it sent
    sent: float  # when the client started sending
    end: float = 0.0  # the stream's end (its last bytes), before any post-processing
    chunk_times: list[float] = field(default_factory=list)  # arrivals of chunks with content
    chunk_tokens: list[int] = field(default_factory=list)  # tokens each chunk carried
    input_tokens: int = 0  # the server's prompt-token count (usage / meta_info), else our estimate
    input_target: int = 0  # what the length profile asked for
    output_tokens: int = 0
    tokens_from_usage: bool = False  # False: counts were estimated (one per chunk)
    error: str | None = None  # error type, e.g. "http_500", "connect", "malformed_sse"
    error_reason: str | None = None  # detail, where there is one (e.g. a post-processing step's)
    output: str = ""  # the streamed text; after post-processing, the answer the user gets
    post_s: float | None = None  # post-processing time; None when the candidate declares none
    level: float = 0.0
    warmup: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.chunk_times)
