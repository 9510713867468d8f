"""Judging the overload: the same rate past capacity with a bounded pool queue (``shedding``) and
without (``no-shedding``, on the recommended stack).

With shedding, three claims together: the admitted requests keep the SLO, what is turned away is
the excess over capacity and no more, and every request not served is a fast 503 — not a pool
timeout after a wait, a proxy 504 or a reset. Without shedding, the same overload queues and the
p99 of all requests breaks the SLO.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...findings import AtLeast, AtMost, Finding, Hypothesis, Within
from ...stack.loadgen import Samples
from ...stats import PercentileInterval, Values, percentile_interval, share, span
from .params import Params
from .steps import Measured, cpu_warnings, steps_of


def _statuses(samples: Samples) -> str:
    """"200: 228, 503 pool_queue_full: 244" — every answer by status and the service's error name."""
    counts = samples.count_by(lambda s: f"{s.status}{' ' + (s.error or s.failure) if (s.error or s.failure) else ''}")
    return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))


def _busy(params: Params, m: Measured | None) -> list[str]:
    """Why a run measured its generator: a step at the CPU limit or short of the offered rate, or
    Locust's own CPU warning."""
    if m is None:
        return []
    reasons = [r for s in steps_of(m, params) if (r := s.generator_busy())]
    return [f"{m.name}: {r}" for r in [*reasons, *(f"Locust warned: {w}" for w in cpu_warnings(m.load))]]


def _guarded(params: Params, m: Measured | None, h: Hypothesis, observed: float | None, samples: int,
             detail: str, also: Measured | None = None) -> Finding:
    """Judged, unless the generator of the run (or of ``also``, which it is compared with) was the
    bottleneck: then inconclusive, saying why."""
    if reasons := _busy(params, m) + _busy(params, also):
        return h.inconclusive(observed, samples, f"the generator was the bottleneck ({'; '.join(reasons)}); {detail}")
    return h.judge(observed, samples, detail)


def _guarded_p99(params: Params, m: Measured | None, h: Hypothesis, latencies_ms: Values, detail: str) -> Finding:
    """A p99 claim judged by the p99's confidence interval: held or failed only when the whole
    interval is on one side of the bound (inconclusive with too few samples to bound it)."""
    p99: PercentileInterval | None = percentile_interval(latencies_ms, 99)
    if p99 is None:
        return _guarded(params, m, h, None, 0, detail)
    detail = f"{p99}; {detail}"
    if reasons := _busy(params, m):
        return h.inconclusive(p99.estimate, p99.samples,
                              f"the generator was the bottleneck ({'; '.join(reasons)}); {detail}")
    return h.judge_interval(p99.estimate, p99.low, p99.high, p99.samples, detail)


def _window(params: Params, m: Measured | None) -> Samples:
    """The overload's answers after its warm-up (completions, as in the step load)."""
    return m.load.step_samples(0, skip_s=params.warmup_s) if m else Samples.empty()


def judge_overload(params: Params, runs: Mapping[str, Measured]) -> list[Finding]:
    """The shedding trio and the unshed overload, each inconclusive where its generator was the bottleneck."""
    shed, unshed = runs.get("shedding"), runs.get("no-shedding")
    overload = (f"{params.overload_rate:g} req/s offered ({params.overload_rate / params.capacity_rps:.1f} × "
                f"the Little's-law capacity of {params.capacity_rps:.0f} req/s)")
    done = _window(params, shed)
    admitted = done.latency_ms[done.status == 200]
    turned_away = done.take(done.status != 200)
    fast = int(np.count_nonzero((turned_away.status == 503) & (turned_away.latency_ms <= params.fast_ms)))
    counts = f"{len(done)} answers ({_statuses(done)}); max_waiting {params.shed_max_waiting} per worker"
    window_s = params.overload_s - params.warmup_s
    served_rps = len(admitted) / window_s
    unshed_done = _window(params, unshed)
    unshed_ms = unshed_done.latency_ms
    # What could be served: what the same stack without the bound served under the same overload
    # (the pool's real capacity, per-request overhead included); without that run, slots ÷ hold.
    capacity, source = ((int(np.count_nonzero(unshed_done.status == 200)) / window_s,
                         "as the unshed overload served it")
                        if len(unshed_done) else (params.capacity_rps, "slots ÷ hold: no unshed overload ran"))
    excess = max(0.0, 1.0 - capacity / params.overload_rate) * 100.0
    return [
        _guarded_p99(params, shed, Hypothesis(
            "shedding.admitted-p99-within-slo",
            f"Under {overload}, with the pool's queue bounded, the p99 of admitted (200) requests stays within "
            "the SLO, its 95 % interval included (bounding a p99 from above takes at least 368 admitted "
            "requests).", AtMost(params.slo_p99_ms, "ms"), recommended=True),
            admitted, counts),
        _guarded(params, shed, Hypothesis(
            "shedding.sheds-only-the-excess",
            f"Under {overload}, with the pool's queue bounded, the share of requests not served is the excess "
            f"over capacity, 1 − capacity ÷ offered (± {params.shed_tolerance_pct:g} points), capacity as the "
            "same stack without the bound serves that overload: shedding turns away what cannot be served, and "
            "not what could.",
            Within(round(excess, 1), params.shed_tolerance_pct, "%"), recommended=True),
            share(len(turned_away), len(done)), len(done),
            f"{len(turned_away)} of {len(done)} not served ({served_rps:.1f} served/s); capacity {capacity:.1f} "
            f"req/s ({source}), excess {excess:.1f} %; {counts}", also=unshed),
        _guarded(params, shed, Hypothesis(
            "shedding.excess-fast-503",
            f"Every request not served gets a fast 503 (within {params.fast_ms:g} ms) instead of a place in a "
            "queue: no pool timeout after a wait, no proxy 504, no reset.", AtLeast(100, "%"), recommended=True),
            share(fast, len(turned_away)), len(turned_away),
            f"{fast}/{len(turned_away)} not served were 503s within {params.fast_ms:g} ms (latencies "
            f"{span(turned_away.latency_ms / 1000)}); {counts}"),
        _guarded_p99(params, unshed, Hypothesis(
            "no-shedding.p99-breaks-slo",
            "Without shedding, the same overload queues every request: the p99 of all requests breaks the SLO, "
            "its 95 % interval included.", AtLeast(params.slo_p99_ms, "ms"), recommended=False),
            unshed_ms, f"{len(unshed_ms)} requests ({_statuses(unshed_done)})"),
    ]
