"""Judging the harms: the oversubscribed pools (more slots than the server grants) and the bounded
queue (``max_waiting``). Claims that must hold like the recommended ones: each says what the
anti-pattern or the mechanism does, measured where the app and its clients see it."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from ...stack.loadgen import SATURATED_CPU_PCT, Samples
from ...stats import percentile_interval, share, span
from ...watch import PoolReading
from .observations import Run, outcome
from .params import Params
from .steps import StepStats


def judge_oversubscribed(params: Params, runs: Mapping[str, Run]) -> list[Finding]:
    """More pool slots than the server grants: refused connects, slower clients, a superuser still in."""
    over = runs.get("oversubscribed")
    return [_refused(params, over), _clients(params, over), _admin_still(params, over)]


def _refused(params: Params, over: Run | None) -> Finding:
    promised, granted = params.workers * params.oversubscribed_pool_max_size, params.granted_slots
    h = Hypothesis("oversubscribed.refused-connections",
                   f"With workers × max_size = {promised} above the server's {granted} non-reserved slots, the server "
                   "refuses the pools' further connections: the app's pools count connection errors (the server "
                   "logs 53300). The drill holds no connection while the load runs; its census at the peak is a "
                   "superuser connection that finds the app holding every non-reserved slot, so it sits in a "
                   "reserved one.", AtLeast(1, "refusals"), recommended=False)
    if over is None:
        return h.judge(None, 0, "configuration not run")
    errors = total(over.readings, "connection_errors_total")
    census, before = over.census, over.census.before
    where = (f"census at the peak: the app held {before.app} of {census.ordinary_slots} non-reserved slots, the census "
             f"was client connection {before.total} of {census.max_connections} "
             f"({'a reserved slot' if before.app >= census.ordinary_slots else 'an ordinary slot'})" if before
             else f"no census ({census.error or 'not run'})")
    detail = (f"pool connection errors {errors:.0f} (in {len(over.readings)} /metrics readings); server log: "
              f"{over.app_refused_in_log} FATAL 53300 of the app (and {over.drill_refused} of the drill's own); "
              f"{where}; answers {over.load.samples.count_by(outcome)}")
    if errors >= 1 and before is not None and before.app < census.ordinary_slots:
        # Refusals, but the census found a non-reserved slot the app did not hold: it may have taken it.
        return h.inconclusive(errors, len(over.readings), f"the census may have taken a slot the app was refused; "
                                                          f"{detail}")
    return h.judge(errors if over.readings else None, len(over.readings), detail)


def _clients(params: Params, over: Run | None) -> Finding:
    """What the clients see: pool-timeout 503s where the promised slots would have served them."""
    promised, granted = params.workers * params.oversubscribed_pool_max_size, params.granted_slots
    h = Hypothesis("oversubscribed.clients-get-pool-timeouts",
                   f"Clients pay for the refusals with pool-timeout 503s: {params.oversubscribed_users} users, whom "
                   f"the {promised} promised slots would serve within the pool's wait (predicted "
                   f"{params.oversubscribed_wait_s(promised):.2f} s < {params.pool_timeout_s:g} s), wait past it on "
                   f"the {granted} the server grants (predicted {params.oversubscribed_wait_s(granted):.2f} s): at "
                   "least 1 % of the answers after the warm-up are pool-timeout 503s.",
                   AtLeast(1, "%"), recommended=False)
    if over is None:
        return h.judge(None, 0, "configuration not run")
    answers = over.load.step_samples(0, skip_s=params.warmup_s)
    timeouts = answers.latency_ms[(answers.status == 503) & answers.named("error", "pool_timeout")]
    database = int(np.count_nonzero(answers.named("layer", "database")))
    detail = (f"{len(timeouts)}/{len(answers)} answers were pool-timeout 503s (latencies "
              f"{span(timeouts / 1000)}); answers naming the database (53300 reaching a "
              f"client): {database}; outcomes {answers.count_by(outcome)}")
    busy = ", ".join(f"Locust at {c:.0f} % CPU" for c in over.load.step_cpu_pct if c >= SATURATED_CPU_PCT)
    observed = share(len(timeouts), len(answers))
    return (h.inconclusive(observed, len(answers), f"generator saturated ({busy}); {detail}") if busy
            else h.judge(observed, len(answers), detail))


def _admin_still(params: Params, over: Run | None) -> Finding:
    reserved = over.census.reserved if over and over.census.max_connections else None
    h = Hypothesis("oversubscribed.admin-still-connects",
                   f"Even with the app holding every non-reserved slot ({params.granted_slots}, counted by the census "
                   "at the peak), a superuser connects (superuser_reserved_connections = "
                   f"{reserved if reserved is not None else '?'}).", AtLeast(100, "%"), recommended=False)
    if over is None:
        return h.judge(None, 0, "configuration not run")
    probes = over.admin_probes
    connected = [t for ok, t in probes if ok]
    observed, census, before = share(len(connected), len(probes)), over.census, over.census.before
    detail = f"{len(connected)}/{len(probes)} superuser connections at the peak, in {span(connected)}"
    if before is not None and before.app >= census.ordinary_slots:
        return h.judge(observed, len(probes), f"census: the app held {before.app} of {census.ordinary_slots} "
                                              f"non-reserved slots; {detail}")
    if before is None and over.connection_errors_at_probe >= 1:
        # No superuser got in even to count: the server was full, and the pools had been refused.
        return h.judge(observed, len(probes), f"census refused ({census.error}); the pools had been refused "
                                              f"{over.connection_errors_at_probe:.0f} times before the probes, so "
                                              f"the app held every slot it may; {detail}")
    held = f"the app held {before.app} of {census.ordinary_slots}" if before else f"no census ({census.error})"
    return h.inconclusive(observed, len(probes), f"premise not met or not shown ({held}); {detail}")


def judge_bounded(params: Params, runs: Mapping[str, Run], stats: list[StepStats]) -> list[Finding]:
    """max_waiting set: every request past the bound fails at once, the admitted ones keep a bounded p99."""
    findings: list[Finding] = []
    bounded = runs.get("bounded")
    samples = bounded.load.samples if bounded else Samples.empty()
    bounded_busy = ", ".join(f"Locust at {c:.0f} % CPU" for c in (bounded.load.step_cpu_pct if bounded else [])
                             if c >= SATURATED_CPU_PCT)
    fast_ms = max(params.tolerance_ms, params.hold_s * 1000)
    turned, summary = turn_away_ms(params, samples, fast_ms)
    h = Hypothesis("bounded.fails-fast",
                   f"With max_waiting = {params.max_waiting}, the pools turn away at once the requests they cannot "
                   "take: the p95 of the time to turn one away, its 95 % interval included, is below one hold of a "
                   "connection. Counted as turned away: every non-200 answer (only a pool_queue_full 503 counts at "
                   "its own latency; pool-timeout 503s, proxy 504s and resets count at twice one hold at least), and "
                   "at least as many as the offered rate beyond capacity predicts (a shortfall counts as the slowest "
                   "admitted answers).",
                   AtMost(fast_ms, "ms"), recommended=False)
    # The p95, not the p99: on a shared two-core machine the p99 judged the scheduler (2–3 of ~830
    # rejections at 52–61 ms against a 50 ms hold, twice), while a queued rejection takes hundreds of ms.
    interval = percentile_interval(turned, 95)
    detail = f"{interval or 'nothing to turn away'}; {summary}"
    if bounded_busy:
        findings.append(h.inconclusive(interval.estimate if interval else None, len(turned),
                                       f"generator saturated ({bounded_busy}); {detail}"))
    elif interval is None:
        findings.append(h.judge(None, 0, detail))
    else:
        findings.append(h.judge_interval(interval.estimate, interval.low, interval.high, interval.samples, detail))
    # The bound assumes every slot open: while the pools grow from pool_min_size, fewer connections
    # serve the same queue and each new one costs a connect (measured: the run's slowest admitted
    # answers, up to 3 holds, all in its first 0.8 s). Judged from the first reading with every
    # pool at its max_size.
    full_at = pools_full_at(params, bounded.readings if bounded else [])
    ok = samples.status == 200
    admitted = ok & (samples.start_s >= full_at) if full_at is not None else ok
    n_admitted = int(np.count_nonzero(admitted))
    skipped = (f"; {int(np.count_nonzero(ok)) - n_admitted} answers started before the pools "
               f"reached {params.slots} connections left out" if full_at is not None else "")
    # The bound is on the wait for a connection, so it is judged on the service's own time in its
    # handler (Server-Timing): a client's clock adds the proxy, the worker's event-loop backlog and
    # the generator, which on two shared cores reached 4 holds at a p99 while the pools kept theirs.
    in_service = samples.server_ms[admitted & samples.timed]
    at_client = samples.latency_ms[admitted]
    by_service = len(in_service) == n_admitted
    judged_ms = in_service if by_service else at_client
    instrument = ("time in the service's handler (Server-Timing)" if by_service
                  else f"client latency ({n_admitted - len(in_service)} answers without Server-Timing)")
    # A waiter may wait one whole hold per round of pool_max_size ahead of it: the connections it
    # waits for may all have just been taken (not max_waiting ÷ max_size holds: that is the mean).
    bound_ms = (params.hold_s * (1 + math.ceil(params.max_waiting / params.pool_max_size)) * 1000
                * (1 + params.latency_tolerance_pct / 100) + params.tolerance_ms)
    h = Hypothesis("bounded.admitted-p99",
                   "The p99 of admitted requests' time in the service (pool wait and hold, from its Server-Timing "
                   "header) stays bounded by the queue: hold × (1 + ⌈max_waiting ÷ pool_max_size⌉), plus "
                   "tolerance, its 95 % interval included.", AtMost(round(bound_ms), "ms"),
                   recommended=False)
    unbounded = [s for s in stats if s.users == params.bounded_users]
    client = percentile_interval(at_client, 99)
    detail = (f"p99 of {len(judged_ms)} admitted requests at {params.bounded_users} users, {instrument}{skipped}"
              + (f"; at the client: {client}" if client and by_service else "")
              + (f"; closed-loop without the bound at {unbounded[0].users} users: p99 {unbounded[0].p99_ms:.0f} ms"
                 if unbounded else ""))
    p99 = percentile_interval(judged_ms, 99)
    if p99 is None:
        findings.append(h.judge(None, 0, detail))
    elif bounded_busy:
        findings.append(h.inconclusive(p99.estimate, p99.samples, f"generator saturated ({bounded_busy}); {p99}; {detail}"))
    else:
        findings.append(h.judge_interval(p99.estimate, p99.low, p99.high, p99.samples, f"{p99}; {detail}"))
    return findings


def pools_full_at(params: Params, readings: list[PoolReading]) -> float | None:
    """When the pools had first opened every slot (epoch s), or None without readings of their size.
    Pools that never got there leave the time after the last reading: nothing admitted is judged."""
    if not readings:
        return None
    return next((r.at_s for r in readings if r.size >= params.slots), readings[-1].at_s + 1e9)


def turn_away_ms(params: Params, samples: Samples, fast_ms: float) -> tuple[NDArray[np.float64], str]:
    """The time each request the bounded pools had to turn away took to get its answer, and how they
    were counted. A queue without a bound turns nobody away (its users wait instead): the requests
    the offered excess predicts are then missing, and the slowest admitted answers stand for them,
    so that run fails rather than leaving nothing to judge. A percentile with its interval, not every
    rejection: one scheduling hiccup of a shared two-core machine in ~800 rejections (measured: 2 at
    61 ms) says nothing about where the pool rejects."""
    if not len(samples):
        return np.empty(0), "no answers"
    offered = params.bounded_users / params.bounded_pacing_s if params.bounded_pacing_s else 0.0
    # The offered rate and the capacity each within capacity_tolerance_pct, against the rejections;
    # over the step only (the drain's rejections come on top).
    tol = params.capacity_tolerance_pct / 100
    predicted = round(max(0.0, offered * (1 - tol) - params.capacity_rps * (1 + tol)) * params.bounded_s)
    queue_full = samples.named("error", "pool_queue_full")
    rejected = samples.latency_ms[(samples.status == 503) & queue_full]
    others = (samples.status != 200) & ~queue_full
    other = np.maximum(samples.latency_ms[others], 2 * fast_ms)
    shortfall = max(0, predicted - len(rejected) - len(other))
    admitted = np.sort(samples.latency_ms[samples.status == 200])[::-1][:shortfall]
    stand_ins = np.concatenate([np.maximum(admitted, 2 * fast_ms), np.full(shortfall - len(admitted), 2 * fast_ms)])
    summary = (f"{len(rejected)} pool_queue_full 503s (latencies {span(rejected / 1000)}, "
               f"{int(np.count_nonzero(rejected <= fast_ms))} within {fast_ms:g} ms), {len(other)} other non-200 "
               f"answers {samples.take(others).count_by(outcome)}; "
               f"{predicted} turned away predicted (offered {offered:.0f} req/s − {tol:.0%}, capacity "
               f"{params.capacity_rps:.0f} req/s + {tol:.0%}, over {params.bounded_s:g} s): shortfall {shortfall}")
    return np.concatenate([rejected, other, stand_ins]), summary


def total(readings: list[PoolReading], field: str) -> float:
    """A counter's value at the end of the run (the stack, and so the counter, is fresh)."""
    return float(getattr(readings[-1], field)) if readings else 0.0
