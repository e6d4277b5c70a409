"""Input and output guardrails. Pure functions over text; the caller counts and logs.

Input: PII is redacted (the request goes on), prompt injection, oversize input and blocked
topics block the request. Output: PII leakage is redacted, refusals are flagged, and on
routes that require JSON an answer that does not parse fails (the gateway falls back).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}"  # +44 20 7946 0958
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (020) 7946 0958
    r"|\d{3}[.-]\d{3}[.-]\d{4})"  # 415-555-0132
    r"(?![\w-]|\s\d)")

_INJECTION = re.compile("|".join((
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|all|your|system)\b"
    r"[^.\n]{0,20}\b(?:instructions?|prompts?|rules|directions)\b",
    r"\b(?:reveal|print|show|repeat|leak)\b[^.\n]{0,30}\b(?:system|hidden|initial)\s+(?:prompt|instructions?)\b",
    r"\byou\s+are\s+now\s+(?:DAN|in\s+developer\s+mode|unrestricted|jailbroken)\b",
    r"\bdo\s+anything\s+now\b",
    r"\bjailbreak\b",
    r"\bpretend\s+(?:that\s+)?you\s+(?:have\s+no|are\s+not\s+bound\s+by)\b[^.\n]{0,20}\b(?:rules|restrictions|limits)",
    r"</?\s*(?:system|im_start|im_end)\s*>|<\|im_start\|>|\[/?INST\]",
)), re.IGNORECASE)

_REFUSAL = re.compile("|".join((
    r"\bI(?:'m| am)\s+(?:sorry|afraid)\b[^.\n]{0,40}\b(?:can(?:no|')t|unable|not able)\b",
    r"\bI\s+(?:can(?:no|')t|won't|will not|am unable to|am not able to)\s+"
    r"(?:help|assist|provide|comply|do that|answer|fulfil)",
    r"\bas an AI(?: language model)?\b[^.\n]{0,40}\b(?:can(?:no|')t|not able|unable|don't)\b",
    r"\bI must (?:decline|refuse)\b",
)), re.IGNORECASE)

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _card_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


# (kind, pattern, extra validation); order matters: cards before phones.
_PII: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", _EMAIL, None),
    ("iban", _IBAN, iban_ok),
    ("credit_card", _CARD, _card_ok),
    ("ssn", _SSN, None),
    ("phone", _PHONE, lambda m: sum(c.isdigit() for c in m) >= 7),
)


@dataclass(frozen=True)
class Redaction:
    text: str
    kinds: tuple[str, ...]


_DIGIT = re.compile(r"\d")


def redact_pii(text: str) -> Redaction:
    # every pattern but the e-mail address needs a digit, the e-mail an "@": most texts have
    # neither, and one scan for each is cheaper than five substitutions
    patterns = _PII if _DIGIT.search(text) else _PII[:1] if "@" in text else ()
    kinds: list[str] = []
    for kind, pattern, valid in patterns:
        def replace(m: re.Match[str], kind: str = kind, valid=valid) -> str:
            if valid is not None and not valid(m.group(0)):
                return m.group(0)
            kinds.append(kind)
            return f"[REDACTED_{kind.upper()}]"
        text = pattern.sub(replace, text)
    return Redaction(text, tuple(kinds))


def estimate_tokens(text: str) -> int:
    """About four characters per token for English BPE vocabularies."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class InputPolicy:
    max_input_tokens: int | None = None
    blocked_topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    blocked_by: str | None = None
    reason: str = ""
    redactions: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def hits(self) -> list[str]:
        names = [f"pii:{k}" for k in self.redactions] + list(self.flags)
        return names + ([self.blocked_by] if self.blocked_by else [])


def _blocked_topic(text: str, topics: Iterable[str]) -> str | None:
    lowered = text.lower()
    for topic in topics:
        if re.search(rf"\b{re.escape(topic.lower())}\b", lowered):
            return topic
    return None


def check_input(texts: list[str], policy: InputPolicy) -> Verdict:
    """Verdict over the user-visible texts of a request (before redaction)."""
    joined = "\n".join(texts)
    if policy.max_input_tokens is not None and (n := estimate_tokens(joined)) > policy.max_input_tokens:
        return Verdict("max_input_tokens", f"about {n} input tokens, limit {policy.max_input_tokens}")
    if m := _INJECTION.search(joined):
        return Verdict("prompt_injection", f"prompt-injection pattern: {m.group(0)[:60]!r}")
    if topic := _blocked_topic(joined, policy.blocked_topics):
        return Verdict("blocked_topic", f"blocked topic: {topic}")
    return Verdict()


def json_valid(text: str) -> bool:
    m = _FENCE.match(text)
    try:
        json.loads(m.group(1) if m else text)
    except ValueError:
        return False
    return True


def check_output(text: str, *, require_json: bool) -> tuple[Verdict, str]:
    """Verdict and the text to return (PII redacted)."""
    red = redact_pii(text)
    flags = ("refusal",) if _REFUSAL.search(text) else ()
    if require_json and not json_valid(red.text):
        return Verdict("json_validity", "answer is not valid JSON", red.kinds, flags), red.text
    return Verdict(None, "", red.kinds, flags), red.text
