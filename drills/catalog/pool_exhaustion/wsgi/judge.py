"""Judging the Flask and Django pool drill: the fleet's connection budget with more threads than
connections, capacity by Little's law, and exhaustion answered as the app's named 503 on time.

A configuration that did not run leaves its hypotheses inconclusive, never held; where Locust
saturated its core, the verdicts that rest on its numbers are inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ....findings import AtLeast, AtMost, Finding, Hypothesis, Within
from ....stack.loadgen import SATURATED_CPU_PCT
from ....stats import share, span
from ..observations import Run, outcome
from ..steps import StepStats, generator_busy, step_stats
from .params import PLATEAU_FACTOR, FlaskPoolParams

#: What each framework's pool calls the bound, for the claims' text.
POOL_TERMS = {"flask": "SQLAlchemy's pool_size + max_overflow", "django": "Django's pool max_size"}


def judge(params: FlaskPoolParams, runs: Mapping[str, Run]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    rec = runs.get("recommended")
    stats = step_stats(rec, params) if rec else []
    return [bounded(params, rec), capacity(params, stats), pool_503_on_time(params, runs.get("gthread"))]


def bounded(params: FlaskPoolParams, rec: Run | None) -> Finding:
    """The peak of the app's server connections while the load ran, once the pools had grown past
    their boot size: a bound met before any load is not tested by it."""
    booted = params.workers * params.pool_min_size
    h = Hypothesis("recommended.server-connections-bounded",
                   f"With {params.threads} threads per worker wanting more, the server never sees more app "
                   f"connections than workers × pool_max_size ({POOL_TERMS[params.framework]}) = "
                   f"{params.workers} × {params.pool_max_size} = {params.budget}; under load the pools grow past "
                   f"the {booted} they open at boot.", AtMost(params.budget, "connections"), recommended=True)
    if rec is None:
        return h.judge(None, 0, "configuration not run")
    start, end = rec.load.started_s, rec.load.step_bounds()[-1][1]
    during = [r for r in rec.readings if start <= r.at_s < end and r.server_by_state]
    if not during:
        return h.judge(None, 0, "no pg_stat_activity sample while the load ran")
    top = max(during, key=lambda r: r.server_total)
    states = ", ".join(f"{state} {n}" for state, n in sorted(top.server_by_state.items()))
    detail = (f"peak of {len(during)} pg_stat_activity samples every {params.sample_interval_s:g} s while the load "
              f"ran; by state at the peak: {states}; the pools' own size at most "
              f"{max(r.size for r in during):.0f}")
    if top.server_total <= booted:
        return h.inconclusive(float(top.server_total), len(during),
                              f"the pools never grew past the {booted} connections they open at boot: the bound was "
                              f"not put to the test; {detail}")
    return h.judge(float(top.server_total), len(during), detail)


def capacity(params: FlaskPoolParams, stats: list[StepStats]) -> Finding:
    """Throughput from the clients' answers against the parameters' arithmetic: two independent
    things (latency would not be: in a closed loop it is users ÷ throughput whatever happens)."""
    per_worker = min(params.threads, params.pool_max_size)
    h = Hypothesis("recommended.capacity-littles-law",
                   f"Throughput levels off at workers × min(threads, pool_max_size) ÷ hold = {params.workers} × "
                   f"min({params.threads}, {params.pool_max_size}) ÷ {params.hold_s:g} s = "
                   f"{params.slots / params.hold_s:.0f} requests/s (Little's law).",
                   Within(round(params.slots / params.hold_s, 1),
                          round(params.slots / params.hold_s * params.capacity_tolerance_pct / 100, 1), "req/s"),
                   recommended=True)
    plateau = [s for s in stats if s.users in params.plateau_users()]
    observed = sum(s.throughput_ok for s in plateau) / len(plateau) if plateau else None
    detail = ("; ".join(f"{s.users} users: {s.throughput_ok:.1f}/s, answers "
                        f"{', '.join(f'{k} ×{v}' for k, v in sorted(s.statuses.items()))}" for s in plateau)
              or f"no step with ≥ {PLATEAU_FACTOR} × slots users")
    busy = generator_busy(plateau)
    return (h.inconclusive(observed, len(plateau), f"generator saturated ({busy}); {detail}") if busy
            else h.judge(observed, len(plateau), f"mean of saturated steps ({per_worker} slots per worker): {detail}"))


def pool_503_on_time(params: FlaskPoolParams, run: Run | None) -> Finding:
    """Every request the pools could not serve within their wait: answered as the app's named 503
    on time, by the client's clock. Counted as excess: every non-200 answer and every 200 slower than
    a hold plus the pool's wait (one that waited longer: a hang the pool's timeout should have cut)."""
    low, high = params.pool_503_window_ms()
    h = Hypothesis("gthread.pool-503-on-time",
                   f"With {params.exhaust_threads} threads per worker and {params.pool_max_size} connections, every "
                   f"request the pool cannot serve within pool_timeout ({params.pool_timeout_s:g} s) gets the app's "
                   f"named 503 pool_timeout {low / 1000:.2f}–{high / 1000:.2f} s after it was sent: never a hang, "
                   f"never nginx's 504 (read timeout {params.proxy_read_timeout_s:g} s).", AtLeast(100, "%"),
                   recommended=True)
    if run is None:
        return h.judge(None, 0, "configuration not run")
    samples = run.load.samples
    slow_ok = (samples.status == 200) & (samples.latency_ms > params.longest_admitted_ms())
    excess = samples.take((samples.status != 200) | slow_ok)
    pool_503 = (excess.status == 503) & excess.named("error", "pool_timeout")
    on_time = excess.latency_ms[pool_503 & (excess.latency_ms >= low) & (excess.latency_ms <= high)]
    proxy_504 = int(np.count_nonzero((excess.status == 504) & excess.named("layer", "")))
    detail = (f"{len(on_time)}/{len(excess)} requests past the pool's wait were pool_timeout 503s on time "
              f"(latencies {span(excess.latency_ms[pool_503] / 1000)}); 200s slower than "
              f"{params.longest_admitted_ms() / 1000:.2f} s: {int(np.count_nonzero(slow_ok))}; proxy 504s: {proxy_504}; "
              f"all {len(samples)} answers {samples.count_by(outcome)}")
    # A saturated generator can make an answer late, not change its kind: a proxy error or any answer
    # but the pool's 503 fails the claim whatever Locust's CPU; only late ones are then inconclusive.
    wrong_kind = int(np.count_nonzero((excess.status != 200) & ~pool_503))
    busy = ", ".join(f"Locust at {c:.0f} % CPU" for c in run.load.step_cpu_pct if c >= SATURATED_CPU_PCT)
    if busy and not wrong_kind:
        return h.inconclusive(share(len(on_time), len(excess)), len(excess), f"generator saturated ({busy}); {detail}")
    if busy:
        detail = (f"generator saturated ({busy}), but {wrong_kind} answers were not the pool's 503 at all "
                  f"(their kind does not depend on the client's clock); {detail}")
    if not len(excess):
        return h.inconclusive(None, 0, f"no request had to wait past the pool's wait (the threads never exceeded "
                                       f"the pool): nothing to judge; {detail}")
    return h.judge(share(len(on_time), len(excess)), len(excess), detail)
