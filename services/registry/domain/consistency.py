"""The consistency check: does the record tell the truth about what is served?

Pure: the registry's tasks and candidates, and the live route tables each gateway reported,
in; every disagreement out, in words. A *problem* is a fact two parts hold differently (or
the record breaking its own invariants); a *note* is worth knowing but not wrong (a canary in
progress, a task no gateway routes, a staging route left pointing at a finished candidate).

The rules (docs/operator.md, "Stages"):
- a task has at most one production candidate, and it is the task's champion;
- at most one standby, which exists only beside a champion, and is the route's fallback;
- on the task's production route of every gateway, traffic goes to the champion (and, while
  a canary runs, to the canary candidate); fallbacks are the standby (or, during a canary, the
  champion); nothing served is unknown, of another task, or in a stage that ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.events.deployments import RouteTable, RouteTarget
from shared.pipeline import Stage, is_terminal, prod_route, staging_route


@dataclass(frozen=True)
class TaskView:
    name: str
    champion_id: str | None


@dataclass(frozen=True)
class CandidateView:
    id: str
    task: str
    stage: str


@dataclass(frozen=True)
class GatewayView:
    url: str
    routes: Sequence[RouteTable] = ()
    error: str | None = None


@dataclass(frozen=True)
class Finding:
    message: str
    task: str | None = None
    gateway: str | None = None


@dataclass
class Report:
    problems: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [asdict(f) for f in self.problems],
                "notes": [asdict(f) for f in self.notes], "gateways": self.gateways}


def check(tasks: Sequence[TaskView], candidates: Sequence[CandidateView], gateways: Sequence[GatewayView]) -> Report:
    report = Report(gateways=[g.url for g in gateways])
    known = {c.id: c for c in candidates}
    for task in tasks:
        report.problems += _record_problems(task, [c for c in candidates if c.task == task.name], known)
    if not gateways:
        report.notes.append(Finding("no gateway is configured (CHALLENGER_GATEWAY_ADMIN_URLS): the record was not "
                                    "compared with what is served"))
    for gateway in gateways:
        _check_gateway(report, gateway, tasks, candidates, known)
    return report


# ---- the record alone ---------------------------------------------------------------------

def _record_problems(task: TaskView, own: Sequence[CandidateView], known: dict[str, CandidateView]) -> list[Finding]:
    def finding(message: str) -> Finding:
        return Finding(message, task.name)

    production = [c.id for c in own if c.stage == Stage.production]
    standby = [c.id for c in own if c.stage == Stage.standby]
    found = []
    if len(production) > 1:
        found.append(finding(f"task {task.name} has {len(production)} production candidates ({', '.join(production)});"
                             " at most one, its champion, may be production"))
    found += [finding(m) for m in _champion_problems(task, known)]
    found += [finding(f"{cid} is production but task {task.name}'s champion is {task.champion_id or 'nobody'}")
              for cid in production if cid != task.champion_id]
    if len(standby) > 1:
        found.append(finding(f"task {task.name} has {len(standby)} standby candidates ({', '.join(standby)}); "
                             "only one, the route's fallback, may be standby"))
    if standby and not production:
        found.append(finding(f"task {task.name} has standby {', '.join(standby)} but no production champion"))
    return found


def _champion_problems(task: TaskView, known: dict[str, CandidateView]) -> list[str]:
    if task.champion_id is None:
        return []
    champion = known.get(task.champion_id)
    if champion is None:
        return [f"task {task.name}'s champion {task.champion_id} is not a known candidate"]
    if champion.task != task.name:
        return [f"task {task.name}'s champion {champion.id} belongs to task {champion.task}"]
    if champion.stage != Stage.production:
        return [f"task {task.name}'s champion {champion.id} is {champion.stage}, not production"]
    return []


# ---- the record against one gateway -----------------------------------------------------------

def _check_gateway(report: Report, gateway: GatewayView, tasks: Sequence[TaskView],
                   candidates: Sequence[CandidateView], known: dict[str, CandidateView]) -> None:
    if gateway.error is not None:
        report.problems.append(Finding(f"gateway {gateway.url} could not be read: {gateway.error}",
                                       gateway=gateway.url))
        return
    tables = {t.route: t for t in gateway.routes}
    by_route = {prod_route(t.name): t for t in tasks}
    staged = {staging_route(t.name): t for t in tasks}
    for task in tasks:
        own = [c for c in candidates if c.task == task.name]
        table = tables.get(prod_route(task.name))
        found = _route_findings(task, own, table, known) if table is not None else _unrouted(task, own)
        for problem, message in found:
            (report.problems if problem else report.notes).append(Finding(message, task.name, gateway.url))
    for name, table in tables.items():
        if name in by_route:
            continue
        task = staged.get(name)
        messages = _staging_notes(table, known) if task else [f"route {name} belongs to no task"]
        report.notes += [Finding(m, task.name if task else None, gateway.url) for m in messages]


Found = list[tuple[bool, str]]  # (is a problem, message)


def _unrouted(task: TaskView, own: Sequence[CandidateView]) -> Found:
    route = prod_route(task.name)
    found: Found = [(True, f"{c.id} is {c.stage} but there is no route {route} to serve it")
                    for c in own if c.stage in (Stage.canary, Stage.standby)]
    if task.champion_id is not None:
        found.append((False, f"task {task.name}'s champion {task.champion_id} is not routed by this gateway "
                             f"(no route {route})"))
    return found


def _route_findings(task: TaskView, own: Sequence[CandidateView], table: RouteTable,
                    known: dict[str, CandidateView]) -> Found:
    route, champion = table.route, task.champion_id
    served = [t.candidate_id for t in table.targets]
    fallbacks = [t.candidate_id for t in table.fallbacks]
    canaries = [cid for cid in served if _stage(known, cid) == Stage.canary]
    found: Found = [_target_finding(task, route, t, known, champion) for t in table.targets]
    found += [_fallback_finding(task, route, cid, known, champion) for cid in fallbacks]
    found += [(True, f"{t.candidate_id} is shadowed on route {route} but is {_describe(known, t.candidate_id)}")
              for t in table.shadows if _ended(known, t.candidate_id)]
    if champion is not None and champion not in served and not (canaries and champion in fallbacks):
        found.append((True, f"task {task.name}'s champion {champion} gets no traffic on route {route} "
                            f"(it sends traffic to {', '.join(served) or 'nobody'})"))
    found += [(True, f"{c.id} is standby (the fallback target) but route {route} does not fall back to it "
                     f"(its fallbacks: {', '.join(fallbacks) or 'none'})")
              for c in own if c.stage == Stage.standby and c.id not in fallbacks]
    found += [(True, f"{c.id} is in canary but route {route} sends it no traffic")
              for c in own if c.stage == Stage.canary and c.id not in served]
    total = sum(x.weight for x in table.targets)
    found += [(False, f"canary in progress on route {route}: {t.candidate_id} at weight {t.weight:g} of {total:g}")
              for t in table.targets if t.candidate_id in canaries]
    return [f for f in found if f[1]]


def _target_finding(task: TaskView, route: str, target: RouteTarget, known: dict[str, CandidateView],
                    champion: str | None) -> tuple[bool, str]:
    cid = target.candidate_id
    if cid == champion or _stage(known, cid) == Stage.canary and known[cid].task == task.name:
        return False, ""
    who = f"the champion is {champion}" if champion else f"task {task.name} has no champion"
    return True, f"route {route} sends traffic to {cid}, which is {_describe(known, cid)}; {who}"


def _fallback_finding(task: TaskView, route: str, cid: str, known: dict[str, CandidateView],
                      champion: str | None) -> tuple[bool, str]:
    stage = _stage(known, cid)
    if known.get(cid) is not None and known[cid].task == task.name and (stage == Stage.standby or cid == champion):
        return False, ""
    return True, f"route {route} falls back to {cid}, which is {_describe(known, cid)}, not the task's standby"


def _staging_notes(table: RouteTable, known: dict[str, CandidateView]) -> list[str]:
    return [f"staging route {table.route} still points at {t.candidate_id}, which is {_describe(known, t.candidate_id)}"
            for t in table.targets if _stage(known, t.candidate_id) != Stage.staging]


def _stage(known: dict[str, CandidateView], cid: str) -> str | None:
    candidate = known.get(cid)
    return candidate.stage if candidate else None


def _ended(known: dict[str, CandidateView], cid: str) -> bool:
    stage = _stage(known, cid)
    return stage is None or is_terminal(stage)


def _describe(known: dict[str, CandidateView], cid: str) -> str:
    candidate = known.get(cid)
    if candidate is None:
        return "not a candidate the registry knows"
    return f"{candidate.stage} (task {candidate.task})"
