"""``python -m drills.bench --samples``: peak memory and time to judge 10⁴, 10⁵ and 10⁶ synthetic samples.

Each size runs in a fresh Python process, so that its peak resident memory is its own: the two Locust
drills (pool-exhaustion and load-capacity) each judge ``n`` synthetic requests spread over all of
their runs (with their tables, as ``drills run`` builds them), and the samples file is written and
read back. Reported per size: the process's peak RSS, the peak of what Python and numpy allocated
(tracemalloc: the samples plus the judging's temporaries), and the seconds to judge. The aim
(issue 15): under 200 MB and 2 s at a million. Nothing here starts a process of the stack.
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .stack.loadgen import LoadPlan, LoadResult, LoadStep
from .stack.samples import Samples
from .watch import PoolReading

SIZES = (10_000, 100_000, 1_000_000)
T0 = 1_700_000_000.0
#: Aims of issue 15 at a million samples.
AIM_MB, AIM_S = 200.0, 2.0
LABELS = ("", "pool", "pool_timeout", "pool_queue_full", "database", "ConnectionResetError")


@dataclass(frozen=True)
class SamplesBench:
    task: str
    n: int
    seconds: float
    #: Peak of the Python heap and numpy buffers, the samples included (tracemalloc).
    traced_mb: float
    #: The process's peak resident memory (interpreter, imports and all), and before the samples.
    rss_mb: float
    baseline_rss_mb: float


def synthetic(n: int, steps: list[tuple[int, float]], rng: np.random.Generator) -> LoadResult:
    """``n`` requests over ``steps`` (users, seconds): 85 % 200s with Server-Timing, the rest pool
    503s, proxy 504s and resets, log-normal latencies around 100 ms, in start order."""
    plan = LoadPlan(target_url="http://127.0.0.1:9", path="/work",
                    steps=tuple(LoadStep(users, seconds) for users, seconds in steps))
    start = np.sort(rng.uniform(T0, T0 + plan.total_s, n))
    latency = rng.lognormal(np.log(100.0), 0.6, n)
    kind = rng.choice(5, size=n, p=[0.85, 0.06, 0.05, 0.02, 0.02])
    status = np.array([200, 503, 503, 504, 0], dtype=np.int16)[kind]
    layer = np.array([0, 1, 1, 0, 0], dtype=np.int16)[kind]
    error = np.array([0, 2, 3, 0, 0], dtype=np.int16)[kind]
    failure = np.array([0, 0, 0, 0, 5], dtype=np.int16)[kind]
    server = np.where(kind == 0, latency * 0.9, np.nan)
    samples = Samples(start, latency, status, layer, error, failure, server, LABELS)
    return LoadResult(plan, samples, T0, [20.0] * len(steps))


def readings(seconds: float) -> list[PoolReading]:
    return [PoolReading(T0 + k * 0.25, 2.0, 8.0, 0.0, 0.0, 0.01 * k, 0.0, 0.0, {"active": 8}, in_flight=6.0,
                        latency_sum_s=0.1 * k, latency_count=float(k), requests_total=10.0 * k)
            for k in range(int(seconds / 0.25))]


#: What one fresh process measures: judging one drill, or keeping samples in the file and reading them.
TASKS = ("load-capacity", "pool-exhaustion", "samples file")


def load_capacity_runs(n: int, rng: np.random.Generator) -> tuple[Any, Any, dict[str, Any]]:
    """The load-capacity drill's three Locust runs, ``n`` requests among them."""
    from .catalog import load_capacity

    params = load_capacity.Params()
    rates, overload = params.rates(), [(params.users_for(params.overload_rate), params.overload_s)]
    loads = {"recommended": synthetic(n // 2, [(params.users_for(r), params.step_s) for r in rates], rng),
             "no-shedding": synthetic(n // 4, overload, rng), "shedding": synthetic(n - n // 2 - n // 4, overload, rng)}
    runs = {}
    for name, load in loads.items():
        watched = readings(load.plan.total_s)
        runs[name] = load_capacity.Measured(name, rates if name == "recommended" else [params.overload_rate], load,
                                            watched, [(r.at_s, r.in_flight) for r in watched],
                                            [30.0] * len(load.plan.steps))
    return load_capacity.SPEC, params, runs


def pool_exhaustion_runs(n: int, rng: np.random.Generator) -> tuple[Any, Any, dict[str, Any]]:
    """The pool-exhaustion drill's three Locust runs, ``n`` requests among them."""
    from .catalog import pool_exhaustion
    from .catalog.pool_exhaustion.observations import Run

    params = pool_exhaustion.Params()
    users = {"recommended": params.steps(), "oversubscribed": [params.oversubscribed_users],
             "bounded": [params.bounded_users]}
    shares = {"recommended": n // 2, "oversubscribed": n // 4, "bounded": n - n // 2 - n // 4}
    runs = {name: Run(name, u, synthetic(shares[name], [(x, params.duration_s(name)) for x in u], rng),
                      readings(params.duration_s(name) * len(u)), 0, [(True, 0.005)])
            for name, u in users.items()}
    return pool_exhaustion.SPEC, params, runs


def measure(task: str, n: int, folder: Path) -> float:
    """Seconds ``task`` takes on ``n`` synthetic samples (building them is not counted)."""
    from .stack import samples_file

    rng = np.random.default_rng(15)
    if task == "samples file":
        load = synthetic(n, [(40, 60.0)], rng)
        started = time.perf_counter()
        samples_file.keep(folder, "recommended", load.samples, {"started_s": load.started_s})
        samples_file.read(folder / samples_file.SAMPLES_FILE)
        return time.perf_counter() - started
    spec, params, runs = (load_capacity_runs if task == "load-capacity" else pool_exhaustion_runs)(n, rng)
    started = time.perf_counter()
    spec.judge(params, runs)
    spec.tables(params, runs)  # as drills run does: its tables cut the steps again
    return time.perf_counter() - started


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def one(task: str, n: int) -> SamplesBench:
    """Measure one task at one size in this process (call it in a fresh one: peak RSS only grows).
    Timed and RSS first, without tracemalloc (it slows every allocation and holds its own traces);
    then once more under tracemalloc for the peak of what was allocated."""
    from .catalog import load_capacity, pool_exhaustion  # noqa: F401 - imports before the baseline
    from .stack import samples_file  # noqa: F401 - pyarrow too

    baseline = _rss_mb()
    with tempfile.TemporaryDirectory(prefix="drills-bench-samples-") as tmp:
        seconds = measure(task, n, Path(tmp))
    rss = _rss_mb()
    tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="drills-bench-samples-") as tmp:
        measure(task, n, Path(tmp))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return SamplesBench(task, n, seconds, peak / 2**20, rss, baseline)


def run_all(sizes: tuple[int, ...] = SIZES) -> list[SamplesBench]:
    out = []
    for task in TASKS:
        for n in sizes:
            text = subprocess.run([sys.executable, "-m", "drills.bench_samples", task, str(n)], capture_output=True,
                                  text=True, check=True).stdout
            out.append(SamplesBench(**json.loads(text.splitlines()[-1])))
    return out


def report(results: list[SamplesBench]) -> None:
    print("synthetic samples, a fresh process per task and size (judging = judge + tables, as `drills run`):")
    print(f"  {'task':<16} {'samples':>9} {'seconds':>8} {'traced MB':>10} {'peak RSS MB':>12} "
          f"{'over imports':>13}")
    for r in results:
        print(f"  {r.task:<16} {r.n:>9,} {r.seconds:8.2f} {r.traced_mb:10.1f} {r.rss_mb:12.1f} "
              f"{r.rss_mb - r.baseline_rss_mb:13.1f}")
    for task in TASKS:
        rows = [r for r in results if r.task == task]
        growth = ", ".join(f"×{b.n // a.n} samples: time ×{b.seconds / a.seconds:.1f}, traced ×"
                           f"{b.traced_mb / a.traced_mb:.1f}" for a, b in itertools.pairwise(rows))
        print(f"  {task}: {growth}")
        top = rows[-1]
        if task != "samples file":
            print(f"    aim at {top.n:,}: < {AIM_S:g} s and < {AIM_MB:g} MB → {top.seconds:.2f} s, traced "
                  f"{top.traced_mb:.0f} MB, RSS {top.rss_mb - top.baseline_rss_mb:.0f} MB over the imports' "
                  f"{top.baseline_rss_mb:.0f} MB: {'met' if top.seconds < AIM_S and top.traced_mb < AIM_MB else 'NOT met'}")


def main(argv: list[str]) -> int:
    if argv:  # one task at one size, in this (fresh) process: its result as one JSON line
        print(json.dumps(one(argv[0], int(argv[1])).__dict__))
        return 0
    report(run_all())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
