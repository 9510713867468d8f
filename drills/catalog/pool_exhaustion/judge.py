"""Judging the pool-exhaustion drill: every hypothesis, from the load each configuration sent and
what the pools, the server and its log showed meanwhile.

Each configuration has its own function (the oversubscribed and bounded ones in ``harms.py``); a
configuration that did not run leaves its hypotheses inconclusive (judged on no samples), never
held. Where Locust saturated its core, the verdicts that rest on its numbers are inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ...findings import AtLeast, AtMost, Finding, Hypothesis, Within
from ...params import SUPERUSER_RESERVED_CONNECTIONS
from ...stack.loadgen import Samples
from ...stats import share, span
from ...watch import PoolReading
from .harms import judge_bounded, judge_oversubscribed, total
from .observations import Run, outcome
from .params import PLATEAU_FACTOR, Params
from .steps import StepStats, generator_busy, recommended_steps


def judge(params: Params, runs: Mapping[str, Run]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    stats = recommended_steps(params, runs)
    return [*judge_recommended(params, runs, stats), *judge_oversubscribed(params, runs),
            *judge_bounded(params, runs, stats)]


def judge_recommended(params: Params, runs: Mapping[str, Run], stats: list[StepStats]) -> list[Finding]:
    """Little's law, the pool's queue, fast pool 503s, the connection budget, admin access, no refusals."""
    rec = runs.get("recommended")
    # Steps well past capacity whose predicted queue wait stays inside the pool timeout. "Well past":
    # measured, at 2 × slots one worker may sit half idle while the other queues.
    plateau_users = params.plateau_users()
    candidates = [s for s in stats if s.users in plateau_users]
    # A step whose load sat on some workers' pools while others idled is left out: measured on CI,
    # 16 users served 38.5/s (one worker's pool) and 24 users 78.0/s, with the same stack.
    plateau = [s for s in candidates if not s.uneven]
    uneven = "".join(f"; left out {s.users} users ({s.throughput_ok:.1f}/s): requests waited while other pools "
                     f"idled in {s.uneven_share:.0%} of its readings" for s in candidates if s.uneven)
    return [_capacity(params, plateau, uneven + _growth(params, rec)), _queue(params, plateau, uneven),
            _pool_503(params, rec), _bounded(params, rec), _admin(rec), _no_refusals(rec)]


def _growth(params: Params, rec: Run | None) -> str:
    """How far the pools grew while the load ran, and their failed connects: a pool that cannot open
    its slots (the server refusing, a connect in psycopg_pool's reconnect backoff) caps the capacity
    below the arithmetic, and the finding should say so rather than leave a bare shortfall."""
    during = [r for r in (rec.readings if rec else []) if rec and r.at_s >= rec.load.started_s]
    if not during:
        return ""
    errors = during[-1].connection_errors_total - during[0].connection_errors_total
    return (f"; the pools held at most {max(r.size for r in during):.0f} of {params.slots} connections"
            + (f", {errors:.0f} failed connects (the pool's log names the server's error)" if errors else ""))


def _capacity(params: Params, plateau: list[StepStats], uneven: str) -> Finding:
    h = Hypothesis("recommended.capacity-littles-law",
                   f"Throughput levels off at pool slots ÷ hold time = {params.slots} ÷ {params.hold_s:g} s "
                   f"= {params.capacity_rps:.0f} requests/s (Little's law).",
                   Within(round(params.capacity_rps, 1),
                          round(params.capacity_rps * params.capacity_tolerance_pct / 100, 1), "req/s"),
                   recommended=True)
    busy = generator_busy(plateau)
    observed = sum(s.throughput_ok for s in plateau) / len(plateau) if plateau else None
    detail = ("; ".join(f"{s.users} users: {s.throughput_ok:.1f}/s" for s in plateau) or
              f"no step with ≥ {PLATEAU_FACTOR} × slots users, a queue wait inside the pool timeout and the load "
              "spread over every worker's pool") + uneven
    return (h.inconclusive(observed, len(plateau), f"generator saturated ({busy}); {detail}") if busy
            else h.judge(observed, len(plateau), f"mean of saturated steps: {detail}"))


def _queue(params: Params, plateau: list[StepStats], uneven: str) -> Finding:
    """The queue, from the pools' own wait timer: not Locust's latency, which in a closed loop is
    users ÷ throughput whatever happens, and so would only repeat the capacity check. The mean over
    every request (not the median): each worker queues for its own pool, and the mean over requests
    of two saturated pools is the model's whatever the split of users."""
    h = Hypothesis("recommended.latency-grows-with-queue",
                   "Past capacity, requests wait in the pool: the pools' own mean wait for a connection (their "
                   "/metrics, over every request of a step) ≈ (users − slots) × hold ÷ slots.",
                   AtMost(params.latency_tolerance_pct, "%"), recommended=True)
    measured = [s for s in plateau if math.isfinite(s.pool_wait_s) and params.queue_wait_s(s.users) > 0]
    deviations = [abs(s.pool_wait_s / params.queue_wait_s(s.users) - 1) * 100 for s in measured]
    detail = ("; ".join(f"{s.users} users: pool wait {s.pool_wait_s * 1000:.0f} ms over {s.pool_requests:.0f} "
                        f"requests vs {params.queue_wait_s(s.users) * 1000:.0f} ms (client mean {s.mean_ms:.0f} ms)"
                        for s in measured)
              or f"no step with ≥ {PLATEAU_FACTOR} × slots users and two pool readings after its warm-up") + uneven
    worst = max(deviations) if deviations else None
    busy = generator_busy(measured)
    return (h.inconclusive(worst, len(measured), f"generator saturated ({busy}); {detail}") if busy
            else h.judge(worst, len(measured), f"worst deviation of the pools' mean wait from the queue model; "
                                               f"{detail}"))


def _pool_503(params: Params, rec: Run | None) -> Finding:
    samples = rec.load.samples if rec else Samples.empty()
    overload = samples.take(samples.status != 200)
    fast_pool = overload.latency_ms[(overload.status == 503) & overload.named("layer", "pool")
                                    & (overload.latency_ms <= (params.pool_timeout_s * 1000 + params.tolerance_ms
                                       + params.pool_timeout_s * 1000 * params.latency_tolerance_pct / 100))]
    proxy_504 = int(np.count_nonzero((overload.status == 504) & overload.named("layer", "")))
    h = Hypothesis("recommended.pool-503-not-proxy-504",
                   f"With the pool's wait ({params.pool_timeout_s:g} s) below the proxy's read timeout "
                   f"({params.proxy_read_timeout_s:g} s), excess requests get a fast 503 naming the pool, never a "
                   "proxy 504.", AtLeast(100, "%"), recommended=True)
    return h.judge(share(len(fast_pool), len(overload)), len(overload),
                   f"{len(fast_pool)}/{len(overload)} non-200 answers were pool 503s within "
                   f"{params.pool_timeout_s * 1000:.0f} ms + tolerance "
                   f"(latencies {span(fast_pool / 1000)}); "
                   f"proxy 504s: {proxy_504}; outcomes {overload.count_by(outcome)}")


def _bounded(params: Params, rec: Run | None) -> Finding:
    """The peak of app connections while the load ran, once the pools had grown past their boot size:
    a bound met before any load (pools that open every slot at boot) is not tested by it."""
    limit, booted = params.slots, params.workers * params.pool_min_size
    h = Hypothesis("recommended.server-connections-bounded",
                   f"Under load the pools grow past the {booted} connections they open at boot, and the server "
                   f"never sees more app connections than workers × pool_max_size = {limit}.",
                   AtMost(limit, "connections"), recommended=True)
    if rec is None:
        return h.judge(None, 0, "configuration not run")
    start, end = rec.load.started_s, rec.load.step_bounds()[-1][1]
    during = [r for r in rec.readings if start <= r.at_s < end and r.server_by_state]
    if not during:
        return h.judge(None, 0, "no pg_stat_activity sample while the load ran")
    top = max(during, key=lambda r: r.server_total)
    detail = (f"peak of {len(during)} pg_stat_activity samples every {params.sample_interval_s:g} s while the load "
              f"ran; by state at the peak: {_states(top)}{_growth(params, rec)}")
    if top.server_total <= booted:
        return h.inconclusive(float(top.server_total), len(during),
                              f"the pools never grew past the {booted} connections they open at boot: the bound was "
                              f"not put to the test; {detail}")
    return h.judge(float(top.server_total), len(during), detail)


def _admin(rec: Run | None) -> Finding:
    """An admin connecting proves the superuser reserve only when no ordinary slot is free."""
    reserved = rec.census.reserved if rec and rec.census.max_connections else SUPERUSER_RESERVED_CONNECTIONS
    h = Hypothesis("recommended.admin-connects-at-peak",
                   "With every non-reserved slot taken at the peak (the app's connections, ordinary filler "
                   "connections for the rest and the drill's own sampler and census, counted in pg_stat_activity), "
                   f"an admin still connects: superuser_reserved_connections = {reserved} keeps slots for it.",
                   AtLeast(100, "%"), recommended=True)
    probes = rec.admin_probes if rec else []
    connected = [t for ok, t in probes if ok]
    census = rec.census if rec else None
    before = census.before if census else None
    detail = f"{len(connected)}/{len(probes)} admin connections at the peak, in {span(connected)}"
    if census is None or before is None:
        return h.inconclusive(share(len(connected), len(probes)), 0,
                              f"no census of the server's slots at the peak ({census.error if census else 'not run'});"
                              f" {detail}")
    taken = (f"{before.total} of {census.max_connections} slots taken (app {before.app}, filler {before.filler}, "
             f"the drill's {before.total - before.app - before.filler}); "
             f"{census.ordinary_slots} non-reserved")
    if before.total < census.ordinary_slots:
        return h.inconclusive(share(len(connected), len(probes)), len(probes),
                              f"premise not met, ordinary slots were free: {taken}; {detail}")
    return h.judge(share(len(connected), len(probes)), len(probes), f"{taken}; {detail}")


def _no_refusals(rec: Run | None) -> Finding:
    h = Hypothesis("recommended.no-refused-connections",
                   "The recommended sizing never runs into the server's limit: no 53300 refusals of the app, no "
                   "pool connection errors.", AtMost(0, "refusals"), recommended=True)
    if rec is None:
        return h.judge(None, 0, "configuration not run")
    errors = total(rec.readings, "connection_errors_total")
    return h.judge(float(rec.app_refused_in_log + errors) if rec.readings else None, len(rec.readings),
                   f"server log: {rec.refused_in_log} FATAL 53300, of them the drill's own {rec.drill_refused}; "
                   f"pool connection errors: {errors:.0f} (in {len(rec.readings)} /metrics readings)")


def _states(reading: PoolReading) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(reading.server_by_state.items()))
