"""What the drills' recording costs: Locust with the drills' locustfile against a bare FastHttpUser
locustfile and against wrk, on the same target (nginx → /healthz), in rounds.

Each generator sends with 32 connections (users) for ``duration_s``. Locust's rate is its own count of
requests over its first-to-last request (its ``--json-file``), the same for both locustfiles; its CPU
over that window is read from the process every 0.1 s (psutil), so start-up and imports are not
counted. wrk's rate is its own "Requests/sec", its CPU its rusage. The rounds interleave the three
generators (the two Locusts in alternating order), so that a neighbour's load on the shared machine
falls on all of them; the drills' cost is the paired ratio drills ÷ bare of each round. On two
shared cores the spread between rounds (±20 % measured) is larger than the recording's cost: read
the median with its range, and the CPU per request beside the rate.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .stack.loadgen import LOCUSTFILE

BARE_LOCUSTFILE = LOCUSTFILE.with_name("bare_locustfile.py")
CONNECTIONS = 32
#: The aim of issue 15: the drills' locustfile within 5 % of the bare one's rate.
AIM_PCT = 5.0


@dataclass(frozen=True)
class GeneratorRun:
    generator: str
    requests: int
    rate_rps: float
    #: CPU seconds of the generator's process per request, in µs (its user + system time).
    cpu_us_per_request: float


def _interpolate(readings: list[tuple[float, float]], at: float) -> float:
    """CPU seconds at ``at`` (epoch s), linear between the readings around it."""
    before = [r for r in readings if r[0] <= at] or readings[:1]
    after = [r for r in readings if r[0] >= at] or readings[-1:]
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 <= t0 else c0 + (c1 - c0) * (at - t0) / (t1 - t0)


def locust(name: str, locustfile: Path, url: str, duration_s: float, path: str = "/healthz") -> GeneratorRun:
    """One headless Locust process against ``url``: its rate and CPU per request over its requests."""
    with tempfile.TemporaryDirectory(prefix="drills-bench-locust-") as tmp:
        plan = {"out_dir": tmp, "path": path, "request_timeout_s": 30.0, "pacing_s": 0.0, "drain_s": 0.0,
                "steps": [[CONNECTIONS, duration_s, 1000.0]]}
        env = {**os.environ, "DRILLS_LOAD_PLAN": json.dumps(plan), "DRILLS_BARE_PATH": path}
        argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
                "--host", url, "-u", str(CONNECTIONS), "-r", "1000", "-t", f"{duration_s:g}s",
                "--exit-code-on-error", "0", "--loglevel", "WARNING", "--json-file", f"{tmp}/stats"]
        readings: list[tuple[float, float]] = []
        with subprocess.Popen(argv, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True) as proc:
            try:
                handle = psutil.Process(proc.pid)
                deadline = time.monotonic() + duration_s + 60
                while proc.poll() is None:
                    try:
                        cpu = handle.cpu_times()
                        readings.append((time.time(), cpu.user + cpu.system))
                    except psutil.Error:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name}: Locust still running {duration_s + 60:g} s after it started")
                    time.sleep(0.1)
            finally:
                if proc.poll() is None:
                    proc.kill()
        (entry,) = [e for e in json.loads(Path(f"{tmp}/stats.json").read_text()) if e["name"] == "drill"]
    first, last, count = entry["start_time"], entry["last_request_timestamp"], entry["num_requests"]
    cpu_s = _interpolate(readings, last) - _interpolate(readings, first)
    return GeneratorRun(name, count, count / max(1e-9, last - first), 1e6 * cpu_s / max(1, count))


def wrk(binary: str, url: str, duration_s: float, path: str = "/healthz") -> GeneratorRun:
    """wrk with two threads: the machine's ceiling for this target."""
    before = os.times()
    out = subprocess.run([binary, "-t2", f"-c{CONNECTIONS}", f"-d{duration_s:g}s", f"{url}{path}"],
                         capture_output=True, text=True, check=True).stdout
    after = os.times()
    rate = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec:"))
    count = next(int(line.split()[0]) for line in out.splitlines() if "requests in" in line)
    cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return GeneratorRun("wrk (2 threads)", count, rate, 1e6 * cpu_s / max(1, count))


def compare(url: str, *, rounds: int = 3, duration_s: float = 5.0, wrk_binary: str | None = None) -> list[GeneratorRun]:
    """``rounds`` rounds of the drills' locustfile and the bare one, in alternating order (so that
    neither always runs right after wrk, on a service that wrk has just loaded), then wrk (when found).
    Returned in the same order every round: drills, bare, wrk."""
    wrk_binary = wrk_binary or shutil.which("wrk")
    out = []
    for number in range(rounds):
        pair = [("Locust, drills' locustfile", LOCUSTFILE), ("Locust, bare FastHttpUser", BARE_LOCUSTFILE)]
        done = {name: locust(name, file, url, duration_s) for name, file in (pair if number % 2 == 0 else pair[::-1])}
        out += [done[name] for name, _ in pair]
        if wrk_binary:
            out.append(wrk(wrk_binary, url, duration_s))
    return out


def report(runs: list[GeneratorRun]) -> None:
    names = list(dict.fromkeys(r.generator for r in runs))
    print(f"load generators against the same target (nginx → /healthz, {CONNECTIONS} connections), "
          f"median (min–max) of {len(runs) // len(names)} rounds:")
    for name in names:
        mine = [r for r in runs if r.generator == name]
        rates, cpus = [r.rate_rps for r in mine], [r.cpu_us_per_request for r in mine]
        print(f"  {name:<30} {statistics.median(rates):7.0f} req/s ({min(rates):.0f}–{max(rates):.0f}), CPU "
              f"{statistics.median(cpus):5.0f} µs/request ({min(cpus):.0f}–{max(cpus):.0f})")
    drills = [r for r in runs if r.generator == names[0]]
    bare = [r for r in runs if r.generator == names[1]]
    ratios = [d.rate_rps / b.rate_rps for d, b in zip(drills, bare)]
    cpu = [d.cpu_us_per_request / b.cpu_us_per_request for d, b in zip(drills, bare)]
    cost = 100 * (1 - statistics.median(ratios))
    print(f"  drills ÷ bare, paired per round: rate {statistics.median(ratios):.3f} ({min(ratios):.3f}–"
          f"{max(ratios):.3f}), CPU per request {statistics.median(cpu):.3f} ({min(cpu):.3f}–{max(cpu):.3f})")
    print(f"  aim: the recording costs < {AIM_PCT:g} % of the bare rate → {cost:.1f} %: "
          f"{'met' if cost < AIM_PCT else 'NOT met'}")
    if (ceiling := [r.rate_rps for r in runs if r.generator.startswith("wrk")]):
        top = statistics.median(ceiling)
        print(f"  against wrk's {top:.0f} req/s: drills {statistics.median(r.rate_rps for r in drills) / top:.0%}, "
              f"bare {statistics.median(r.rate_rps for r in bare) / top:.0%}")
