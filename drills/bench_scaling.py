"""How Locust's request rate scales with its worker processes, before anyone buys load machines.

Locust's distributed mode (``LoadPlan.workers``: a master and N workers, as ``-p locust_workers=N``
runs it) with 1, 2 and 4 workers, and one process without a master for reference, each sending with
32 users in all against the same target (nginx → ``/healthz``), with wrk's rate as the ceiling.
Every process runs on this machine, so the workers share its cores with each other and with nginx,
Gunicorn and PostgreSQL: on two cores more workers cannot add CPU, and the table shows what they
cost instead. Separate machines each bring their own cores; this table says how much one of them
gives (the rate per worker where a worker saturates its core).

The rate is the drills' own: completions per second from the raw samples (``LoadResult.throughput``)
after the first second; the CPU per request is what all Locust processes together used over the step
(master included) per request. The rounds interleave the generators, starting each round at a
different one, and every ratio is paired within a round (a rate ÷ the same round's wrk or one-worker
rate), so that a neighbour's load on the shared machine, which moves whole rounds, cancels out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

#: Worker counts of the distributed runs; 0 is one Locust process without a master.
WORKER_COUNTS = (0, 1, 2, 4)
USERS = 32
WRK = "wrk (2 threads)"


@dataclass(frozen=True)
class ScalingRun:
    generator: str
    #: Locust's workers (0: one process); None for wrk.
    workers: int | None
    #: Which round (0, 1, …): ratios pair runs of the same round.
    round: int
    rate_rps: float
    #: The highest share of one core any of its Locust processes used (%); None for wrk.
    peak_cpu_pct: float | None = None
    #: CPU of all its Locust processes together per request, in µs; None for wrk.
    cpu_us_per_request: float | None = None


def generator_name(workers: int) -> str:
    return "Locust, 1 process (no master)" if workers == 0 else \
        f"Locust, master + {workers} worker{'s' if workers > 1 else ''}"


def locust_run(url: str, workers: int, duration_s: float, round_no: int = 0) -> ScalingRun:
    """Locust with ``workers`` workers (0: one process) for ``duration_s`` + 1 s; the rate after 1 s."""
    from .stack.loadgen import LoadPlan, LoadStep, LocustRun

    plan = LoadPlan(target_url=url, path="/healthz", steps=(LoadStep(USERS, duration_s + 1.0),), workers=workers,
                    drain_s=0.5)
    with LocustRun(plan) as locust:
        load = locust.wait()
    cpu_us = 1e4 * load.step_total_cpu_pct[0] / max(1e-9, load.throughput(0))
    return ScalingRun(generator_name(workers), workers, round_no, load.throughput(0, skip_s=1.0), load.step_cpu_pct[0],
                      cpu_us)


def measure(url: str, *, rounds: int, duration_s: float = 5.0, wrk_binary: str | None = None) -> list[ScalingRun]:
    """``rounds`` rounds of wrk (when found) and each worker count, the Locust runs rotated each round."""
    from .bench_generators import wrk

    out: list[ScalingRun] = []
    for number in range(rounds):
        if wrk_binary:
            out.append(ScalingRun(WRK, None, number, wrk(wrk_binary, url, duration_s).rate_rps))
        shift = number % len(WORKER_COUNTS)
        for workers in WORKER_COUNTS[shift:] + WORKER_COUNTS[:shift]:
            run = locust_run(url, workers, duration_s, number)
            print(f"  round {number + 1}/{rounds}: {run.generator:<32} {run.rate_rps:7.0f} req/s", flush=True)
            out.append(run)
    return out


@dataclass(frozen=True)
class ScalingRow:
    generator: str
    median_rps: float
    min_rps: float
    max_rps: float
    #: Median over the rounds of the rate ÷ the same round's wrk rate (None without wrk).
    of_wrk: float | None
    #: Median over the rounds of the rate ÷ the same round's one-worker rate (None for wrk and the
    #: single process).
    of_one_worker: float | None
    median_peak_cpu_pct: float | None
    median_cpu_us_per_request: float | None


def _paired(mine: list[ScalingRun], reference: list[ScalingRun]) -> float | None:
    """Median over the rounds both ran of mine ÷ reference (None when they share no round)."""
    by_round = {r.round: r.rate_rps for r in reference}
    ratios = [r.rate_rps / by_round[r.round] for r in mine if by_round.get(r.round)]
    return statistics.median(ratios) if ratios else None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def table(runs: list[ScalingRun]) -> list[ScalingRow]:
    """One row per generator, in the order wrk, then by worker count: medians over the rounds."""
    names = sorted({r.generator for r in runs}, key=lambda n: -1 if n == WRK else
                   next(r.workers or 0 for r in runs if r.generator == n))
    of = {n: [r for r in runs if r.generator == n] for n in names}
    one = of.get(generator_name(1), [])
    rows = []
    for name, mine in of.items():
        rates = [r.rate_rps for r in mine]
        rows.append(ScalingRow(
            name, statistics.median(rates), min(rates), max(rates),
            _paired(mine, of.get(WRK, [])) if name != WRK else None,
            _paired(mine, one) if mine[0].workers else None,
            _median([r.peak_cpu_pct for r in mine]), _median([r.cpu_us_per_request for r in mine])))
    return rows


def report(runs: list[ScalingRun], cores: int | None) -> None:
    rounds = max(sum(1 for r in runs if r.generator == n) for n in {r.generator for r in runs})
    print(f"Locust's rate by worker processes (distributed mode, {USERS} users in all, nginx → /healthz), "
          f"every process on this machine ({cores} cores), median (min–max) of {rounds} rounds; "
          f"ratios paired per round:")
    for row in table(runs):
        extra = []
        if row.of_wrk is not None:
            extra.append(f"{row.of_wrk:.0%} of wrk")
        if row.of_one_worker is not None:
            extra.append(f"{row.of_one_worker:.2f} × 1 worker")
        if row.median_cpu_us_per_request is not None:
            extra.append(f"Locust CPU {row.median_cpu_us_per_request:.0f} µs/request")
        if row.median_peak_cpu_pct is not None:
            extra.append(f"busiest process {row.median_peak_cpu_pct:.0f} % of a core")
        print(f"  {row.generator:<32} {row.median_rps:7.0f} req/s ({row.min_rps:.0f}–{row.max_rps:.0f})"
              + (f"  {', '.join(extra)}" if extra else ""))
