"""What one Locust run measured, and the per-step numbers the drill judges: throughput, latency
percentiles from raw samples, errors, in-flight requests at the service and at the client, the knee."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

import numpy as np
from numpy.typing import NDArray

from ...stack.loadgen import SATURATED_CPU_PCT, LoadResult, Samples
from ...stats import Values, interval_cell, percentile
from ...watch import PoolReading
from .params import Params

#: Standard errors within which a step's Little's-law comparison must resolve the tolerance.
RESOLVING_SE = 2.0
#: A step whose generator sent less than this share of the offered rate measured the generator.
SENT_SHARE = 0.9


@dataclass
class Measured:
    """One Locust run with what the service did meanwhile."""

    name: str
    rates: list[float]
    load: LoadResult
    readings: list[PoolReading]
    in_flight: list[tuple[float, float]]  # (epoch s, requests in flight at the service)
    service_cpu_pct: list[float]  # per step, all Gunicorn processes together (% of one core)


@dataclass(frozen=True)
class Step:
    rate: float
    sent_rps: float
    throughput_ok: float
    throughput_all: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    #: Mean latency at the client of the requests completed in the step's window.
    mean_ms: float
    error_pct: float
    #: L: mean of the service's own in-flight gauge over the window (sampled from /metrics).
    in_flight: float
    #: λW from the client's clock: Σ (time each request spent inside the window) ÷ the window — the
    #: sample-path form of throughput × mean latency, without the error of requests that straddle
    #: the window's edges — each request's time less its transport (``transport_ms``).
    client_in_flight: float
    #: Standard error (%) of L against λW that sampling the gauge leaves (see littles_law_se_pct).
    littles_se_pct: float
    #: Mean latency at the service's own boundary (its request timer), for the proxy hop in reports.
    service_mean_ms: float
    #: How many in-flight samples the step's window held.
    in_flight_samples: int
    service_cpu_pct: float
    locust_cpu_pct: float
    samples: int
    #: The p99 with its 95 % interval, as a table cell ("201 (180–∞)").
    p99_cell: str = "–"
    #: Median of client latency − the service's Server-Timing handler time over the step's answers
    #: that carry one: the proxy hop and the generator's own overhead, which the gauge never sees.
    transport_ms: float = math.nan

    def meets(self, slo_ms: float) -> bool:
        return self.samples > 0 and self.p99_ms <= slo_ms and self.error_pct <= 1.0

    def generator_busy(self) -> str | None:
        """Why this step measured the generator rather than the service, or None."""
        if self.locust_cpu_pct >= SATURATED_CPU_PCT:
            return f"{self.rate:g} req/s: Locust at {self.locust_cpu_pct:.0f} % CPU"
        if self.sent_rps < SENT_SHARE * self.rate:
            return f"{self.rate:g} req/s: sent only {self.sent_rps:.1f}/s"
        return None


def steps_of(m: Measured, params: Params) -> list[Step]:
    """Per offered rate: what was sent, served and seen at the service, after each step's warm-up."""
    out = []
    warmup = params.warmup_s
    for index, rate in enumerate(m.rates):
        start, end = m.load.step_bounds()[index]
        lo, window_s = start + warmup, end - start - warmup
        done = m.load.step_samples(index, skip_s=warmup)
        # Sends are counted over whole pacing periods: in each, a user on schedule sends exactly once,
        # whatever its phase; over a window that is not a multiple of the period the count swings with
        # the users' random phases (measured: 17.7/s of 20 offered, 40 users over 3 s).
        periods = math.floor(window_s / params.pacing_s) if params.pacing_s > 0 else 0
        sent_s = periods * params.pacing_s if periods else window_s
        starts = m.load.samples.start_s
        sent = int(np.count_nonzero((lo <= starts) & (starts < lo + sent_s)))
        all_ms = done.latency_ms
        ok_ms = done.latency_ms[done.status == 200]
        flights = [(t, v) for t, v in m.in_flight if lo <= t < end]
        transport = (done.latency_ms - done.server_ms)[done.timed]
        transport_ms = float(np.median(transport)) if len(transport) else math.nan
        typical_ms = max(0.0, transport_ms) if len(transport) else 0.0
        held_from, held_to = _held(m.load.samples, typical_ms)
        inside = np.minimum(held_to, end) - np.maximum(held_from, lo)
        inside = inside[inside > 0]
        window = [r for r in m.readings if lo <= r.at_s < end]
        timed = window[-1].latency_count - window[0].latency_count if len(window) >= 2 else 0.0
        interval = median(b[0] - a[0] for a, b in pairwise(flights)) if len(flights) >= 2 else math.inf
        out.append(Step(
            rate=rate, sent_rps=sent / sent_s,
            throughput_ok=m.load.throughput(index, skip_s=warmup, status=200),
            throughput_all=m.load.throughput(index, skip_s=warmup),
            p50_ms=percentile(all_ms, 50), p95_ms=percentile(all_ms, 95), p99_ms=percentile(all_ms, 99),
            mean_ms=float(np.mean(all_ms)) if len(all_ms) else math.nan,
            error_pct=100.0 * (len(all_ms) - len(ok_ms)) / len(all_ms) if len(all_ms) else math.nan,
            in_flight=sum(v for _, v in flights) / len(flights) if flights else math.nan,
            client_in_flight=float(np.sum(inside)) / window_s if window_s > 0 else math.nan,
            littles_se_pct=littles_law_se_pct(inside, interval),
            service_mean_ms=(1000.0 * (window[-1].latency_sum_s - window[0].latency_sum_s) / timed
                             if timed > 0 else math.nan),
            in_flight_samples=len(flights),
            service_cpu_pct=m.service_cpu_pct[index], locust_cpu_pct=m.load.step_cpu_pct[index],
            samples=len(done), p99_cell=interval_cell(all_ms, 99),
            transport_ms=transport_ms))
    return out


def _held(samples: Samples, typical_transport_ms: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """When the service held each request, as seen from the client's clock: its start and end, each
    moved in by half its transport — client latency − the service's own handler time, or the step's
    typical transport for an answer without one (a proxy's 504, a reset), so that an answer the
    proxy gave while the service still held the request keeps counting against the law."""
    transport_ms = np.where(samples.timed, samples.latency_ms - samples.server_ms,
                            np.minimum(typical_transport_ms, samples.latency_ms))
    half_s = np.maximum(0.0, transport_ms) / 2000.0
    return samples.start_s + half_s, samples.end_s - half_s


def cpu_warnings(load: LoadResult) -> list[str]:
    """Locust's own warnings that its CPU was at the limit ("CPU usage above 90%!", a worker that
    "exceeded cpu threshold"): the generator then measured itself."""
    return [w for w in load.warnings if "cpu" in w.lower()]


def littles_law_error_pct(step: Step) -> float:
    """|L − λW| ÷ λW in %: L the service's sampled in-flight gauge, λW from the client's clock
    (``client_in_flight``). Two instruments, independent of each other: they agree only when what
    the client timed is what the service held — no answer the service did not give, no request it
    held after the client stopped waiting. Each request's transport (the proxy hop and the
    generator's own overhead: client latency − the service's Server-Timing) is taken out of λW: it
    grows with the machine's load (measured 8 ms of a 60 ms request at 20 req/s on two busy cores,
    14 % against a 10 % tolerance) and is no part of what the service held."""
    predicted = step.client_in_flight
    if not predicted > 0 or not math.isfinite(step.in_flight):  # also NaN
        return math.nan
    return abs(step.in_flight - predicted) / predicted * 100.0


def littles_law_se_pct(inside_s: Values, interval_s: float) -> float:
    """Standard error (%) of the gauge's mean against the client's λW, for requests that spent
    ``inside_s`` seconds in the window and a gauge sampled every ``interval_s``.

    The gauge counts each request's time in whole sampling intervals Δ: for a time d it sees
    ⌊d/Δ⌋ or ⌈d/Δ⌉ intervals, a variance of Δ²·f(1−f) (f the fraction, 1/6 on average) — or, for
    d < Δ, d·(Δ − d). Independent between requests, these add up; relative to Σ d.
    """
    inside = np.asarray(inside_s, dtype=np.float64)
    total = float(np.sum(inside))
    if not total > 0 or not math.isfinite(interval_s):
        return math.inf
    variance = float(np.sum(np.where(inside < interval_s, inside * (interval_s - inside), interval_s ** 2 / 6)))
    return 100.0 * math.sqrt(variance) / total


def resolves(step: Step, tolerance_pct: float) -> bool:
    """True when the step's samples resolve the tolerance: RESOLVING_SE standard errors fit in it."""
    return step.samples > 0 and RESOLVING_SE * step.littles_se_pct <= tolerance_pct


@dataclass(frozen=True)
class Knee:
    """Where p99 crosses the SLO: between ``low`` (the last step meeting it, every step below it
    meeting it too) and ``high`` (the next step), interpolated linearly. Without ``low`` the knee
    lies below the first step (``rate`` is then an upper bound); without ``high`` at or above the
    last one (``rate`` a lower bound)."""

    rate: float
    low: Step | None
    high: Step | None

    def describe(self) -> str:
        if self.low is None:
            return f"below the first step, {self.rate:g} req/s"
        if self.high is None:
            return f"at least {self.rate:g} req/s (every step met the SLO)"
        return f"{self.rate:.1f} req/s, between {self.low.rate:g} and {self.high.rate:g} req/s"


def knee(steps: list[Step], slo_ms: float) -> Step | None:
    """The highest step that meets the SLO, provided every step below it does too."""
    best = None
    for step in steps:
        if not step.meets(slo_ms):
            break
        best = step
    return best


def locate_knee(steps: list[Step], slo_ms: float) -> Knee | None:
    """The offered rate at which the SLO breaks, interpolated between the steps around it (the
    first of p99 crossing the SLO and errors crossing 1 %); None without any step."""
    if not steps:
        return None
    low = knee(steps, slo_ms)
    if low is None:
        return Knee(steps[0].rate, None, steps[0])
    after = steps.index(low) + 1
    if after == len(steps):
        return Knee(low.rate, low, None)
    high = steps[after]
    fractions = [1.0]
    if high.samples > 0 and high.p99_ms > slo_ms:
        fractions.append((slo_ms - low.p99_ms) / (high.p99_ms - low.p99_ms))
    if high.samples > 0 and high.error_pct > 1.0:
        fractions.append((1.0 - low.error_pct) / (high.error_pct - low.error_pct))
    return Knee(low.rate + (high.rate - low.rate) * min(fractions), low, high)
