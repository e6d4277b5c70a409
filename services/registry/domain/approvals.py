"""What an approval approves, and what voids it. Pure.

An approval names the evidence it was given on: the run ids of the latest completed Dev
evaluation, load test, red-team run and E2E run of the candidate. A newer result of any of
these kinds (a re-run, completed or failed) voids it: the approver did not see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

EVIDENCE: dict[str, str] = {"evaluation": "evaluation", "loadtest": "load test", "red_team": "red team",
                            "e2e": "e2e"}  # kind -> how the record says it
# result kinds (services/registry/domain/projections.py) whose newer result re-runs evidence
RERUN_KINDS: frozenset[str] = frozenset({"evaluation", "loadtest"})
Evidence = dict[str, str | None]


class Result(Protocol):
    """A projected result row (models/results.py ResultRecord)."""

    kind: str
    run_id: str | None
    status: str
    payload: dict[str, Any]


def evidence_kinds(result: Result) -> set[str]:
    """Which kinds of evidence a completed result is: a Dev evaluation also carries the red team,
    a Staging evaluation the E2E run and the red team again."""
    if result.status != "completed":
        return set()
    if result.kind == "loadtest":
        return {"loadtest"}
    if result.kind != "evaluation":
        return set()
    payload: Mapping[str, Any] = result.payload or {}
    found = {"evaluation"} if payload.get("stage", "dev") == "dev" else set()
    if payload.get("security") is not None:
        found.add("red_team")
    if payload.get("e2e_passed") is not None:
        found.add("e2e")
    return found


def approved_evidence(results: Iterable[Result]) -> Evidence:
    """The run id of the latest completed result of each kind of evidence (results oldest first)."""
    evidence: Evidence = dict.fromkeys(EVIDENCE)
    for result in results:
        for kind in evidence_kinds(result):
            evidence[kind] = result.run_id
    return evidence


def describe(evidence: Mapping[str, str | None] | None) -> str:
    if evidence is None:
        return "no recorded evidence (approved before approvals named theirs)"
    return ", ".join(f"{label} {evidence.get(kind) or 'none'}" for kind, label in EVIDENCE.items())


def voids(result: Result) -> bool:
    """A result that arrives after an approval re-runs what it approved."""
    return result.kind in RERUN_KINDS


def void_reason(evidence: Mapping[str, str | None] | None, result: Result) -> str:
    return (f"{result.kind} {result.run_id or '(no id)'} {result.status} after the approval, which approved "
            f"{describe(evidence)}")
