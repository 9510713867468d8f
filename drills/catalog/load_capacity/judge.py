"""Judging the load-capacity drill's step load: Little's law, the knee, the plateau past capacity.

A run that did not happen leaves its hypotheses inconclusive (judged on no samples), never held;
so does a generator that was the bottleneck (a Locust process at its core's limit, Locust's own CPU
warning, or not sending what was offered): then the drill measured Locust, not the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ...findings import AtMost, Finding, Hypothesis, Verdict, Within
from .overload import judge_overload
from .params import Params
from .steps import RESOLVING_SE, Measured, Step, cpu_warnings, littles_law_error_pct, locate_knee, resolves, steps_of

#: Past capacity, served throughput under this share of the last step's below it is a collapse.
COLLAPSE_SHARE = 0.5


def judge(params: Params, runs: Mapping[str, Measured]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    rec = runs.get("recommended")
    steps = steps_of(rec, params) if rec else []
    busy = [reason for s in steps if (reason := s.generator_busy())]
    busy += [f"Locust warned: {w}" for w in (cpu_warnings(rec.load) if rec else [])]
    return [
        judge_littles_law(params, steps, busy),
        judge_knee(params, steps, busy),
        judge_flat_past_saturation(params, steps, busy),
        *judge_overload(params, runs),
    ]


def _guarded(h: Hypothesis, observed: float | None, samples: int, detail: str, busy: list[str]) -> Finding:
    """Judged, unless the generator was the bottleneck: then inconclusive, saying where."""
    if busy:
        return h.inconclusive(observed, samples, f"the generator was the bottleneck ({'; '.join(busy)}); {detail}")
    return h.judge(observed, samples, detail)


def judge_littles_law(params: Params, steps: list[Step], busy: list[str]) -> Finding:
    """L = λW across the proxy: the service's in-flight gauge against the client's own timing, in the
    worst of the steps whose samples resolve the tolerance (at, below and past the knee)."""
    tol = params.littles_tolerance_pct
    measured = [s for s in steps if s.samples > 0]
    judged = [s for s in measured if resolves(s, tol)]
    excluded = [s for s in measured if s not in judged]
    errors = [littles_law_error_pct(s) for s in judged]
    h = Hypothesis("recommended.littles-law",
                   "Mean in-flight requests at the service (its own gauge) ≈ λW from the client's clock "
                   "(throughput × mean latency, both as the client timed them, less each request's transport: "
                   "client latency − the service's Server-Timing) at every step, below, at and past the knee: "
                   "what the client waited for is what the service held. A step is judged where "
                   f"{RESOLVING_SE:g} standard errors of its sampling fit in the tolerance; with most steps "
                   "excluded the verdict is inconclusive.",
                   AtMost(tol, "%"), recommended=True)
    detail = (f"worst of {len(judged)} of {len(measured)} steps; " + "; ".join(
        f"{s.rate:g}/s: L {s.in_flight:.2f} at the service vs λW {s.client_in_flight:.2f} from the client "
        f"(λ {s.throughput_all:.1f}/s × W {s.mean_ms:.0f} ms "
        f"{'with no Server-Timing' if math.isnan(s.transport_ms) else f'less transport {s.transport_ms:.1f} ms'}; "
        f"service timer {s.service_mean_ms:.0f} ms), "
        f"{littles_law_error_pct(s):.1f} % ± {s.littles_se_pct:.1f} %" for s in judged))
    if excluded:
        detail += (f"; excluded, sampling cannot resolve {tol:g} % ({RESOLVING_SE:g} standard errors exceed it): "
                   + ", ".join(f"{s.rate:g}/s (± {s.littles_se_pct:.1f} %, {s.in_flight_samples} gauge samples)"
                               for s in excluded))
    worst = max(errors) if errors else None
    if busy:
        return _guarded(h, worst, len(judged), detail, busy)
    if len(judged) * 2 < len(measured):
        return h.inconclusive(worst, len(judged), f"most steps could not be resolved (sample the gauge more "
                              f"often: sample_interval_s, or hold steps longer); {detail}")
    return h.judge(worst, len(judged), detail)


def judge_knee(params: Params, steps: list[Step], busy: list[str]) -> Finding:
    """The knee lies in a band below capacity: from knee_min_pct of slots ÷ hold up to all of it."""
    # TODO(percentile CIs): judge recommended.knee-below-capacity with the p99's confidence interval
    # at the two steps around the knee, once drills.stats has one.
    lo, hi = params.knee_band
    cap = params.capacity_rps
    h = Hypothesis("recommended.knee-below-capacity",
                   f"The knee — the offered rate at which the p99 crosses the SLO ({params.slo_p99_ms:g} ms, "
                   f"errors ≤ 1 %), interpolated between the steps around it — lies below the pool's "
                   f"Little's-law capacity but at or above {params.knee_min_pct:g} % of it ({lo:.0f}–{hi:.0f} "
                   "req/s): the SLO holds only with headroom, and slots ÷ hold predicts where.",
                   Within(round((lo + hi) / 2, 1), round((hi - lo) / 2, 1), "req/s"), recommended=True)
    k = locate_knee(steps, params.slo_p99_ms)
    detail = (f"Little's-law capacity {params.slots} ÷ {params.hold_s:g} s = {cap:.0f} req/s, band "
              f"{lo:.0f}–{hi:.0f} req/s; " + "; ".join(
                  f"{s.rate:g}/s → p99 {s.p99_ms:.0f} ms, {s.error_pct:.1f} % errors" for s in steps))
    if k is None or any(s.samples == 0 for s in steps):
        return _guarded(h, None, 0, f"a step without samples; {detail}", busy)
    where = f"knee {k.describe()} = {k.rate / cap:.0%} of capacity, {k.rate / params.workers:.1f} req/s per worker; "
    if busy:
        return _guarded(h, k.rate, len(steps), where + detail, busy)
    if k.low is None:  # the first step broke the SLO: the knee is lower still
        if k.rate <= lo:
            return Finding.of(h, k.rate, len(steps), Verdict.FAILED, where + detail)
        return h.inconclusive(k.rate, len(steps), f"the first step already broke the SLO (lower it); {where}{detail}")
    if k.high is None:  # every step met it: the knee is higher still
        if k.rate > hi:
            return Finding.of(h, k.rate, len(steps), Verdict.FAILED, where + detail)
        return h.inconclusive(k.rate, len(steps), f"no step broke the SLO (extend rate_steps); {where}{detail}")
    return h.judge(k.rate, len(steps), where + detail)


def judge_flat_past_saturation(params: Params, steps: list[Step], busy: list[str]) -> Finding:
    """Past capacity, served throughput stays within the flat tolerance while latency rises: p99
    past the SLO, mean latency above the last step below capacity.

    Not "each p99 above the one before": past capacity the pool's timeout caps the wait, so
    successive p99s sit at the same ceiling and their order is noise (a CI run: 703 ms, then 574 ms)."""
    judged = params.saturation_rates()
    past = [s for s in steps if s.rate in judged and s.rate >= params.capacity_rps and s.samples > 0]
    before = [s for s in steps if s.rate in judged and s.rate < params.capacity_rps and s.samples > 0][-1:]
    mean = sum(s.throughput_ok for s in past) / len(past) if past else 0.0
    spread = ((max(s.throughput_ok for s in past) - min(s.throughput_ok for s in past)) / mean * 100
              if len(past) >= 2 and mean > 0 else None)
    h = Hypothesis("recommended.flat-past-saturation",
                   f"At and past capacity ({params.capacity_rps:.0f} req/s offered), served throughput stays flat "
                   f"(spread ≤ {params.flat_tolerance_pct:g} %) while latency rises: every step's p99 above the SLO "
                   "and its mean latency above that of the last step below capacity.",
                   AtMost(params.flat_tolerance_pct, "%"), recommended=True, min_samples=2)
    detail = "; ".join(f"{s.rate:g}/s offered → {s.throughput_ok:.1f}/s served, p99 {s.p99_ms:.0f} ms, "
                       f"mean {s.mean_ms:.0f} ms" for s in [*before, *past])
    if len(past) < 2 or busy:
        return _guarded(h, spread, len(past), f"spread of served throughput; {detail}", busy)
    # A plateau is flat at the level the service reached, not at nothing: a stack whose proxy gives
    # up before the pool serves ~0/s past capacity, where the spread is undefined or small.
    reached = before[0].throughput_ok if before else 0.0
    if mean < COLLAPSE_SHARE * reached or mean == 0:
        return Finding.of(h, spread, len(past), Verdict.FAILED,
                          f"served throughput collapsed past capacity: {mean:.1f}/s on average against "
                          f"{reached:.1f}/s below it (under {COLLAPSE_SHARE:.0%} of it counts as a collapse); {detail}")
    # TODO(percentile CIs): judge recommended.flat-past-saturation's "p99 above the SLO" with each
    # step's p99 interval.
    within_slo = [s for s in past if s.p99_ms <= params.slo_p99_ms]
    not_slower = [s for s in past if before and s.mean_ms <= before[0].mean_ms]
    flat = spread is not None and spread <= params.flat_tolerance_pct
    if within_slo or not_slower:
        why = ", ".join([*(f"{s.rate:g}/s within the SLO" for s in within_slo),
                         *(f"{s.rate:g}/s no slower on average than {before[0].rate:g}/s" for s in not_slower)])
        return Finding.of(h, spread, len(past), Verdict.FAILED,
                          f"latency did not rise ({why}){'' if flat else '; throughput not flat either'}; {detail}")
    return h.judge(spread, len(past), f"spread of served throughput; {detail}")
