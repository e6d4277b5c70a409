"""Canary statistics benchmark: the deployer's always-valid canary analysis (mSPRT confidence
sequences, checked after every batch) against the same decision rule with a naive fixed-n
z-interval peeked after every batch, on simulated live traffic stepping through the real
policy's canary weights.

Scenarios (each run through services.deployer.domain.canary.analyse_step with the packaged
policy's canary rule):
  A/A            identical arms: any 'rollback' is a false alarm; the rate at which the test
                 declares the candidate significantly BETTER on any metric is the A/A
                 false-promotion rate.
  margin null    the candidate is worse by exactly the error-rate margin: any promotion is a
                 false promotion of a candidate that is not non-inferior.
  A/B            the candidate's error rate triples: requests until rollback (time to detect).
  gross          the candidate's error rate is 10x: requests until rollback.

Run: python -m benchmarks.canary_stats [--sims 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from services.deployer.adapters.policy_file import load_policy
from services.deployer.domain import canary as ca
from services.deployer.domain.policy import CanaryRule
from shared.stats.sequential import Moments, SequentialResult

BATCH = 2000          # requests per look (all arms), e.g. one tick of a busy route
MAX_LOOKS = 150       # 300k requests per simulated canary
BASE_ERRORS = 0.02
LATENCY = (300.0, 60.0)
_NORMAL = NormalDist()


@dataclass
class Outcome:
    decision: str            # promote | rollback | undecided
    looks: int
    candidate_requests: int
    total_requests: int
    false_better: bool       # some metric's interval entirely below 0 (candidate "significantly better")


def naive_compare(a: Moments, b: Moments, *, alpha: float, tau: float, rate: bool = False,
                  null: float = 0.0) -> SequentialResult:
    """The peer: a fixed-n normal interval, recomputed at every look as if it were the only one."""
    if a.n == 0 or b.n == 0:
        return SequentialResult(b.mean - a.mean, -np.inf, np.inf, 1.0, a.n, b.n)
    var = (a.rate_variance() if rate else a.variance) / a.n + (b.rate_variance() if rate else b.variance) / b.n
    se, effect = float(np.sqrt(max(var, 1e-12))), b.mean - a.mean
    z = _NORMAL.inv_cdf(1 - alpha / 2)
    p = 2 * (1 - _NORMAL.cdf(abs(effect - null) / se))
    return SequentialResult(effect, effect - z * se, effect + z * se, p, a.n, b.n)


@contextlib.contextmanager
def analysis_with(compare_fn) -> Iterator[None]:
    original = ca.compare
    ca.compare = compare_fn
    try:
        yield
    finally:
        ca.compare = original


def _arm_batch(rng: np.random.Generator, n: int, error_rate: float) -> dict[str, Moments]:
    errors = int(rng.binomial(n, error_rate))
    lat = rng.normal(LATENCY[0], LATENCY[1], size=n - errors)
    zeros = Moments(n, 0.0, 0.0)
    return {"error_rate": Moments(n, errors, errors), "slo_breach_rate": Moments(n, errors, errors),
            "latency_ms": Moments(n - errors, float(lat.sum()), float((lat * lat).sum())),
            "refusal_rate": zeros, "guardrail_rate": zeros, "json_invalid_rate": zeros}


def simulate(rule: CanaryRule, rng: np.random.Generator, cand_errors: float) -> Outcome:
    champion: dict[str, Moments] = {}
    candidate: dict[str, Moments] = {}
    step, step_start, false_better = 0, 0, False
    for look in range(1, MAX_LOOKS + 1):
        n_cand = int(rng.binomial(BATCH, rule.steps[step] / 100.0))
        champion = ca.merge(champion, _arm_batch(rng, BATCH - n_cand, BASE_ERRORS))
        candidate = ca.merge(candidate, _arm_batch(rng, n_cand, cand_errors))
        a = ca.analyse_step(champion, candidate, rule=rule, step=step, step_start_n=step_start)
        false_better |= any(m.verdict != "insufficient" and m.result.high < 0 for m in a.metrics)
        seen = ca.requests_seen(candidate)
        if a.decision in ("promote", "rollback"):
            return Outcome(a.decision, look, seen, look * BATCH, false_better)
        if a.decision == "advance":
            step, step_start = step + 1, seen
    return Outcome("undecided", MAX_LOOKS, ca.requests_seen(candidate), MAX_LOOKS * BATCH, false_better)


def scenario(rule: CanaryRule, sims: int, seed: int, cand_errors: float) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    return [simulate(rule, rng, cand_errors) for _ in range(sims)]


def rate(outcomes: list[Outcome], decision: str) -> float:
    return sum(o.decision == decision for o in outcomes) / len(outcomes)


def median_to(outcomes: list[Outcome], decision: str, attr: str) -> float:
    values = [getattr(o, attr) for o in outcomes if o.decision == decision]
    return float(np.median(values)) if values else float("nan")


def run(sims: int, seed: int) -> dict[str, dict[str, float]]:
    rule = load_policy().for_task("benchmark").canary
    margin = rule.margins["error_rate"]
    results: dict[str, dict[str, float]] = {}
    for name, fn in (("always-valid (ours)", ca.compare), ("naive z peeked (peer)", naive_compare)):
        t0 = time.perf_counter()
        with analysis_with(fn):
            aa = scenario(rule, sims, seed, BASE_ERRORS)
            null = scenario(rule, sims, seed + 1, BASE_ERRORS + margin)
            ab = scenario(rule, max(sims // 2, 50), seed + 2, 3 * BASE_ERRORS)
            gross = scenario(rule, max(sims // 2, 50), seed + 3, 10 * BASE_ERRORS)
        results[name] = {
            "aa_false_rollback": rate(aa, "rollback"),
            "aa_false_better": sum(o.false_better for o in aa) / len(aa),
            "aa_promoted": rate(aa, "promote"),
            "aa_median_requests_to_promote": median_to(aa, "promote", "total_requests"),
            "margin_null_false_promotion": rate(null, "promote"),
            "ab_detected": rate(ab, "rollback"),
            "ab_median_candidate_requests_to_rollback": median_to(ab, "rollback", "candidate_requests"),
            "ab_median_total_requests_to_rollback": median_to(ab, "rollback", "total_requests"),
            "gross_median_candidate_requests_to_rollback": median_to(gross, "rollback", "candidate_requests"),
            "seconds": time.perf_counter() - t0,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = run(args.sims, args.seed)
    ours, peer = results["always-valid (ours)"], results["naive z peeked (peer)"]
    print(f"canary statistics: {args.sims} simulated canaries per scenario, {BATCH} requests per look, "
          f"steps {load_policy().for_task('benchmark').canary.steps}, base error rate {BASE_ERRORS}")
    print(f"{'metric':44s} {'ours':>12s} {'naive peer':>12s} {'ours/peer':>10s}")
    for key in ours:
        a, b = ours[key], peer[key]
        ratio = a / b if b else float("nan")
        print(f"{key:44s} {a:12.4g} {b:12.4g} {ratio:10.3g}")


if __name__ == "__main__":
    main()
