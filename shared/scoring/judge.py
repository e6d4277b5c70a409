"""LLM-as-judge: any candidate grades an answer against a rubric.

The judge must end its answer with one line `VERDICT: PASS` or `VERDICT: FAIL`. Anything
else (no verdict line, two conflicting ones, prose instead) is `unparseable`, and a failed
call is `error`: both are COUNTED in the summary, never silently dropped, because a judge that
cannot follow the format is itself a finding.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.engines.types import EngineError, GenerationRequest

if TYPE_CHECKING:
    from shared.engines.client import EngineClient

Outcome = Literal["pass", "fail", "unparseable", "error"]
_VERDICT_LINE = re.compile(r"^[\s*#]*verdict[\s*]*:[\s*]*(pass|fail)[\s*.]*$", re.IGNORECASE)

JUDGE_SYSTEM = (
    "You are a strict grader. Read the rubric, the question, the reference answer (if any) and "
    "the answer to grade. Think briefly, then finish with exactly one final line: "
    "'VERDICT: PASS' or 'VERDICT: FAIL'."
)


@dataclass(frozen=True)
class JudgeVerdict:
    outcome: Outcome
    raw: str = ""
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def score(self) -> float | None:
        return {"pass": 1.0, "fail": 0.0}.get(self.outcome)


@dataclass(frozen=True)
class JudgeSummary:
    n: int
    passed: int
    failed: int
    unparseable: int
    errors: int

    @property
    def pass_rate(self) -> float | None:
        """Pass share among parseable verdicts; None when there are none."""
        graded = self.passed + self.failed
        return self.passed / graded if graded else None


def parse_verdict(text: str) -> JudgeVerdict:
    found = {m.group(1).lower() for line in text.splitlines() if (m := _VERDICT_LINE.match(line))}
    if len(found) != 1:
        return JudgeVerdict("unparseable", text)
    return JudgeVerdict("pass" if found == {"pass"} else "fail", text)


def judge_request(rubric: str, question: str, answer: str, reference: str | None = None,
                  *, max_tokens: int = 256) -> GenerationRequest:
    parts = [f"RUBRIC:\n{rubric}", f"QUESTION:\n{question}"]
    if reference:
        parts.append(f"REFERENCE ANSWER:\n{reference}")
    parts.append(f"ANSWER TO GRADE:\n{answer}")
    messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
    return GenerationRequest(messages=messages, temperature=0.0, max_tokens=max_tokens)


async def judge(client: EngineClient, rubric: str, question: str, answer: str,
                reference: str | None = None) -> JudgeVerdict:
    try:
        gen = await client.generate(judge_request(rubric, question, answer, reference))
    except EngineError as exc:
        return JudgeVerdict("error", str(exc))
    verdict = parse_verdict(gen.text)
    return JudgeVerdict(verdict.outcome, verdict.raw, gen.input_tokens, gen.output_tokens)


def summarize(verdicts: Iterable[JudgeVerdict]) -> JudgeSummary:
    counts = Counter(v.outcome for v in verdicts)
    return JudgeSummary(n=sum(counts.values()), passed=counts["pass"], failed=counts["fail"],
                        unparseable=counts["unparseable"], errors=counts["error"])
