"""Statistics of each saturation step: throughput and latency percentiles from the raw samples, the
pool and server readings taken during the step, and how busy the load generator was."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ...stack.loadgen import SATURATED_CPU_PCT
from ...stats import interval_cell, percentile
from ...watch import PoolReading
from .observations import Run, outcome
from .params import Params


@dataclass(frozen=True)
class StepStats:
    users: int
    throughput_ok: float  # 200s completed per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    statuses: dict[str, int]
    max_waiting: float
    max_server: int
    locust_cpu_pct: float
    samples: int
    #: Share of the step's pool readings in which requests waited while idle connections sat in
    #: the pools: one worker queued while another idled (summed over workers, waiting and idle at
    #: once cannot happen within one pool).
    uneven_share: float = 0.0
    #: The pools' own mean wait for a connection over every request of the step (after its warm-up),
    #: from /metrics: Δ drills_pool_wait_seconds ÷ Δ drills_pool_requests; NaN without two readings.
    pool_wait_s: float = float("nan")
    #: The requests that mean is taken over.
    pool_requests: float = 0.0
    #: The p99 with its 95 % interval, as a table cell ("201 (180–∞)").
    p99_cell: str = "–"

    @property
    def uneven(self) -> bool:
        """Most of the step, the load sat on some workers' pools and not others: it did not test
        the pools' capacity but where the proxy's kept-alive connections happened to land."""
        return self.uneven_share > 0.5

    @property
    def saturated_generator(self) -> bool:
        return self.locust_cpu_pct >= SATURATED_CPU_PCT


class WarmedUp(Protocol):
    """What step_stats needs of a drill's parameters (the FastAPI drill's and the WSGI variants')."""

    @property
    def warmup_s(self) -> float: ...


def step_stats(run: Run, params: WarmedUp) -> list[StepStats]:
    """One StepStats per step of ``run`` (the warm-up of each step left out)."""
    out = []
    for index, users in enumerate(run.users):
        done = run.load.step_samples(index, skip_s=params.warmup_s)
        ok = done.latency_ms[done.status == 200]
        start, end = run.load.step_bounds()[index]
        readings = [r for r in run.readings if start <= r.at_s < end]
        settled = [r for r in readings if r.at_s >= start + params.warmup_s]
        wait_s, requests = pool_wait(settled)
        out.append(StepStats(
            users=users,
            throughput_ok=run.load.throughput(index, skip_s=params.warmup_s, status=200),
            p50_ms=percentile(ok, 50), p95_ms=percentile(ok, 95), p99_ms=percentile(ok, 99),
            mean_ms=float(np.mean(ok)) if len(ok) else float("nan"),
            statuses=done.count_by(outcome),
            max_waiting=max((r.waiting for r in readings), default=0.0),
            max_server=max((r.server_total for r in readings), default=0),
            locust_cpu_pct=run.load.step_cpu_pct[index],
            samples=len(done), p99_cell=interval_cell(ok, 99),
            uneven_share=share_of(lambda r: r.waiting >= 1 and r.available >= 1, settled),
            pool_wait_s=wait_s, pool_requests=requests,
        ))
    return out


def recommended_steps(params: Params, runs: Mapping[str, Run]) -> list[StepStats]:
    """The saturation steps of the recommended configuration; none if it did not run."""
    rec = runs.get("recommended")
    return step_stats(rec, params) if rec else []


def pool_wait(readings: list[PoolReading]) -> tuple[float, float]:
    """The pools' mean wait for a connection between the first and the last reading, and over how
    many requests (NaN, 0 when fewer than two readings or no request)."""
    if len(readings) < 2:
        return float("nan"), 0.0
    requests = readings[-1].requests_total - readings[0].requests_total
    if requests <= 0:
        return float("nan"), 0.0
    return (readings[-1].wait_s_total - readings[0].wait_s_total) / requests, requests


def share_of(predicate: Callable[[PoolReading], bool], readings: list[PoolReading]) -> float:
    return sum(1 for r in readings if predicate(r)) / len(readings) if readings else 0.0


def generator_busy(stats: list[StepStats]) -> str:
    """The steps in which Locust saturated its core, named with its CPU ("" if none)."""
    busy = [s for s in stats if s.saturated_generator]
    return ", ".join(f"{s.users} users: Locust at {s.locust_cpu_pct:.0f} % CPU" for s in busy)
