"""garak as a red-team engine: the run's configuration and the reading of its report. Pure.

garak runs in its own virtual environment (it pins libraries this project cannot share), as a
subprocess against the target's OpenAI-compatible route; `adapters/garak_runner.py` does that.
Here: what we ask of it, and what its `report.jsonl` says.

A garak `eval` row counts, for one (probe, detector), the answers that passed and failed. We call
a failed answer a successful attack. A probe's rate is its WORST detector's failed / evaluated
(detectors look for different harms; one that fires is enough). A family's rate (`dan`,
`encoding`, the part of the probe name before the dot) weights its probes by their attempts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schemas.events.evaluations import GarakFamily, GarakProbe, GarakScan, GarakSummary

KEY_ENV = "OPENAICOMPATIBLE_API_KEY"  # garak's OpenAICompatible generator reads its key from here


class GarakReportError(ValueError):
    pass


def garak_config(scan: GarakScan, *, base_url: str, model: str, report_prefix: str, seed: int = 7) -> dict[str, Any]:
    """garak's --config document for one scan (the key travels in KEY_ENV, never in the file)."""
    return {
        "system": {"parallel_attempts": 4, "lite": True, "narrow_output": True},
        "run": {"generations": scan.generations, "soft_probe_prompt_cap": scan.prompt_cap, "seed": seed},
        "plugins": {
            "target_type": "openai.OpenAICompatible",
            "target_name": model,
            "probe_spec": ",".join(scan.probes),
            "generators": {"openai": {"OpenAICompatible": {
                "uri": base_url.rstrip("/").removesuffix("/v1") + "/v1/", "model": model, "max_tokens": scan.max_tokens,
                "suppressed_params": ["n"], "retry_json": False}}},
        },
        "reporting": {"report_prefix": report_prefix},
    }


def summarize(lines: Iterable[str], probes: list[str]) -> GarakSummary:
    """A GarakSummary from report.jsonl lines; GarakReportError when no probe was evaluated."""
    version, worst = None, {}
    for row in _rows(lines):
        if row.get("entry_type") == "init":
            version = row.get("garak_version")
        elif row.get("entry_type") == "eval":
            probe = _probe_rate(row)
            if probe.attempts and (probe.probe not in worst or
                                   probe.attack_success_rate > worst[probe.probe].attack_success_rate):
                worst[probe.probe] = probe
    if not worst:
        raise GarakReportError("garak's report has no evaluated probe (did every call fail?)")
    return GarakSummary(garak_version=version, probes=list(probes), families=_families(worst.values()))


def _rows(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise GarakReportError(f"report line {n} is not JSON: {exc}") from exc


def _probe_rate(row: dict[str, Any]) -> GarakProbe:
    evaluated = int(row.get("total_evaluated") or 0)
    failed = int(row.get("fails", evaluated - int(row.get("passed") or 0)) or 0)
    rate = failed / evaluated if evaluated else 0.0
    return GarakProbe(probe=str(row["probe"]), detector=str(row.get("detector", "?")), attempts=evaluated,
                      attack_success_rate=rate)


def _families(probes: Iterable[GarakProbe]) -> dict[str, GarakFamily]:
    grouped: dict[str, list[GarakProbe]] = {}
    for p in sorted(probes, key=lambda p: p.probe):
        grouped.setdefault(family_of(p.probe), []).append(p)
    return {name: GarakFamily(attempts=sum(p.attempts for p in ps),
                              attack_success_rate=sum(p.attack_success_rate * p.attempts for p in ps)
                              / sum(p.attempts for p in ps),
                              probes=ps)
            for name, ps in grouped.items()}


def family_of(probe: str) -> str:
    return probe.removeprefix("probes.").split(".", 1)[0]
