"""What one Locust run measured, and the per-step numbers the drill judges: throughput, latency
percentiles from raw samples, errors, in-flight requests and the service's own mean latency."""

from __future__ import annotations

from dataclasses import dataclass

from ...stack.loadgen import LoadResult
from ...stats import percentile
from ...watch import PoolReading
from .params import Params

#: Standard errors within which a step's sampled in-flight must resolve the Little's-law tolerance.
RESOLVING_SE = 2.0


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
    mean_ms: float
    error_pct: float
    in_flight: float
    #: Mean latency at the service's own boundary (its request timer): the client's mean without the
    #: proxy hop and the client's own overhead. Little's law is judged at this boundary.
    service_mean_ms: float
    #: How many in-flight samples the step's window held.
    in_flight_samples: int
    service_cpu_pct: float
    locust_cpu_pct: float
    samples: int

    def meets(self, slo_ms: float) -> bool:
        return self.samples > 0 and self.p99_ms <= slo_ms and self.error_pct <= 1.0


def steps_of(m: Measured, params: Params) -> list[Step]:
    """Per offered rate: what was sent, served and seen at the service, after each step's warm-up."""
    out = []
    warmup = params.warmup_s
    for index, rate in enumerate(m.rates):
        start, end = m.load.step_bounds()[index]
        done = m.load.step_samples(index, skip_s=warmup)
        sent = [s for s in m.load.samples if start + warmup <= s.start_s < end]
        all_ms = [s.latency_ms for s in done]
        ok_ms = [s.latency_ms for s in done if s.status == 200]
        flights = [v for t, v in m.in_flight if start + warmup <= t < end]
        window = [r for r in m.readings if start + warmup <= r.at_s < end]
        timed = window[-1].latency_count - window[0].latency_count if len(window) >= 2 else 0.0
        out.append(Step(
            rate=rate, sent_rps=len(sent) / (end - start - warmup),
            throughput_ok=m.load.throughput(index, skip_s=warmup, status=200),
            throughput_all=m.load.throughput(index, skip_s=warmup),
            p50_ms=percentile(all_ms, 50), p95_ms=percentile(all_ms, 95), p99_ms=percentile(all_ms, 99),
            mean_ms=sum(all_ms) / len(all_ms) if all_ms else float("nan"),
            error_pct=100.0 * (len(all_ms) - len(ok_ms)) / len(all_ms) if all_ms else float("nan"),
            in_flight=sum(flights) / len(flights) if flights else float("nan"),
            in_flight_samples=len(flights),
            service_mean_ms=(1000.0 * (window[-1].latency_sum_s - window[0].latency_sum_s) / timed
                             if timed > 0 else float("nan")),
            service_cpu_pct=m.service_cpu_pct[index], locust_cpu_pct=m.load.step_cpu_pct[index],
            samples=len(done)))
    return out


def knee(steps: list[Step], slo_ms: float) -> Step | None:
    """The highest step that meets the SLO, provided every step below it does too."""
    best = None
    for step in steps:
        if not step.meets(slo_ms):
            break
        best = step
    return best


def resolvable_in_flight(samples: int, tolerance_pct: float) -> float:
    """The least mean in-flight whose sampled mean (``samples`` samples, Poisson-like variance)
    resolves ``tolerance_pct`` within RESOLVING_SE standard errors: RESOLVING_SE² ÷ (tol² × n)."""
    if samples < 1:
        return float("inf")
    return RESOLVING_SE ** 2 / ((tolerance_pct / 100.0) ** 2 * samples)


def littles_law_error_pct(step: Step) -> float:
    """|L − X·W| ÷ X·W in %, at the service's boundary: L its sampled in-flight gauge, X the
    throughput the client counted, W the service's own mean latency (its request timer).

    Why not the client's W: it adds the proxy hop and the client's own overhead, time that L at the
    service never sees (1–2 ms per request on the local stack; more behind a real ingress). Three
    instruments, one boundary.
    """
    predicted = step.throughput_all * step.service_mean_ms / 1000.0
    if not predicted > 0:  # also NaN: no timer readings in the window
        return float("nan")
    return abs(step.in_flight - predicted) / predicted * 100.0
