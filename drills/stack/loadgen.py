"""Locust as a load generator: its own processes, a step plan, raw per-request samples, its CPU.

Locust runs headless as a subprocess (its gevent monkey-patching breaks a Jupyter kernel), with
``locustfile.py`` beside this module. With ``workers > 0`` it runs Locust's own distributed mode: a
master that owns the step shape and ``workers`` worker processes that send the requests.

Why raw samples: Locust's statistics round response times into buckets (~2 significant digits),
so percentiles here are computed from every request's exact time. Why its CPU is watched: a
generator that saturates its core measures itself, not the target; drills turn that into
"inconclusive".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ComponentError, ParameterError
from ..target.guard import check_target_url
from .cpu import CpuSampler
from .ports import LOOPBACK, pick_free_port
from .process import Component, ManagedProcess
from .samples import Mask, Sample, Samples, read_records

__all__ = ["LOCUSTFILE", "MAX_PLAN_S", "SATURATED_CPU_PCT", "LoadPlan", "LoadResult", "LoadStep", "LocustRun",
           "Placement", "Sample", "Samples", "locust_commands"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: A plan longer than this is refused: every load loop stops by itself, and soon.
MAX_PLAN_S = 900.0
#: Share of one core above which a Locust process counts as saturated (Locust warns at 90 %).
SATURATED_CPU_PCT = 90.0


@dataclass(frozen=True)
class LoadStep:
    users: int
    duration_s: float
    #: Users started per second at this step; None uses the plan's ``spawn_rate``.
    spawn_rate: float | None = None


@dataclass(frozen=True, kw_only=True)
class LoadPlan:
    """What Locust sends: one path, closed-loop users held at each step's count for its duration."""

    target_url: str
    path: str
    steps: tuple[LoadStep, ...]
    request_timeout_s: float = 30.0
    #: Users started per second when a step begins (high: steps start at once).
    spawn_rate: float = 1000.0
    #: Locust worker processes (its distributed mode); 0 runs one process.
    workers: int = 0
    #: 0: closed loop, each user sends again as soon as it has an answer. > 0: each user starts one
    #: request every ``pacing_s``, at a random phase: an offered rate of users ÷ pacing that does not
    #: follow the latency (an approximately open workload), and no storm of retries after fast 503s.
    pacing_s: float = 0.0
    #: After the last step its users go on this long, so that requests in flight when the plan ends
    #: complete and are recorded (Locust kills running requests when a test stops). Requests that
    #: start in the drain fall outside every step and are not counted.
    drain_s: float = 2.0
    #: Hosts other than loopback this plan may load (drills.target.guard); "" allows loopback only.
    allow_hosts: str = ""
    #: Cap on the offered rate: users are paced so that all of them together start at most this
    #: many requests per second, whatever the service's latency. Required for a host not loopback.
    max_rps: float | None = None
    #: Cap on the plan's length, drain included. Required for a host not loopback.
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        # The same guard as the drills' target_url: checked again here, where traffic starts.
        url = check_target_url(self.target_url, self.allow_hosts)
        if not url.local and not (self.max_rps and self.max_duration_s):
            raise ParameterError("target_max_rps", self.max_rps,
                                 f"load against {url.host} (not loopback) needs both a rate and a duration cap")
        if self.max_duration_s is not None and self.total_s + self.drain_s > self.max_duration_s:
            raise ParameterError("target_max_duration_s", self.max_duration_s,
                                 f"the plan lasts {self.total_s + self.drain_s:g} s with its drain")
        if not self.steps:
            raise ParameterError("steps", self.steps, "need at least one step")
        for step in self.steps:
            if step.users < 1 or step.duration_s <= 0:
                raise ParameterError("steps", step, "each step needs users ≥ 1 and duration_s > 0")
        if self.total_s > MAX_PLAN_S:
            raise ParameterError("steps", f"{self.total_s:g} s", f"a plan may last at most {MAX_PLAN_S:g} s")
        if not self.path.startswith("/"):
            raise ParameterError("path", self.path, "must start with /")
        if not 0 <= self.workers <= 16:
            raise ParameterError("locust_workers", self.workers, "must be between 0 and 16")

    @property
    def total_s(self) -> float:
        return sum(step.duration_s for step in self.steps)

    @property
    def effective_pacing_s(self) -> float:
        """The pacing Locust's users keep: ``pacing_s``, stretched so that the largest step's users
        together stay under ``max_rps`` (a closed loop becomes a paced one under a cap)."""
        if not self.max_rps:
            return self.pacing_s
        return max(self.pacing_s, max(step.users for step in self.steps) / self.max_rps)


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where Locust's processes run. By default all on this machine, talking over loopback.

    Each process can be given a command prefix that runs it elsewhere, e.g. ``("ip", "netns", "exec",
    "ns1")`` for a network namespace (``drills.stack.netns``): the same ``locust`` command lines a user
    types on separate machines, one prefix per machine. Workers write their samples to the plan's
    folder on *their* file system: a prefix must keep this machine's files (a namespace does; ssh
    to another machine does not, and ``LocustRun`` would then find only the master's, empty, files).
    """

    #: The master's address: it binds there and every worker connects to it.
    master_host: str = LOOPBACK
    master_prefix: tuple[str, ...] = ()
    #: One prefix per worker, in order (as many as the plan's ``workers``); empty: none has one.
    worker_prefixes: tuple[tuple[str, ...], ...] = ()


def locust_commands(plan: LoadPlan, placement: Placement, *, master_port: int,
                    python: str = sys.executable) -> tuple[list[str], list[list[str]]]:
    """The master's command line and each worker's (one process, no workers, when ``plan.workers`` is
    0). Raises ParameterError when ``placement`` names prefixes for a different number of workers."""
    if placement.worker_prefixes and len(placement.worker_prefixes) != plan.workers:
        raise ParameterError("worker_prefixes", len(placement.worker_prefixes),
                             f"one prefix per worker: the plan has {plan.workers}")
    common = [python, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
              "--host", plan.target_url, "--exit-code-on-error", "0", "--loglevel", "INFO"]
    if not plan.workers:
        return [*placement.master_prefix, *common], []
    master = [*placement.master_prefix, *common, "--master", "--master-bind-host", placement.master_host,
              "--master-bind-port", str(master_port), "--expect-workers", str(plan.workers),
              "--expect-workers-max-wait", "60"]
    prefixes = placement.worker_prefixes or ((),) * plan.workers
    workers = [[*prefix, *common, "--worker", "--master-host", placement.master_host, "--master-port", str(master_port)]
               for prefix in prefixes]
    return master, workers


@dataclass
class LoadResult:
    plan: LoadPlan
    #: Every request, as columns in start order (``drills.stack.samples``).
    samples: Samples
    #: Epoch seconds when the test started (the earliest process to report it).
    started_s: float
    #: Per step: the highest CPU share of one core that any Locust process used (%).
    step_cpu_pct: list[float]
    #: Locust's own warnings (e.g. "CPU usage above 90%!").
    warnings: list[str] = field(default_factory=list)
    #: Per step: the CPU all Locust processes used together, in % of one core (what the load cost).
    step_total_cpu_pct: list[float] = field(default_factory=list)

    def step_bounds(self) -> list[tuple[float, float]]:
        """(start, end) epoch seconds of each step."""
        bounds, start = [], self.started_s
        for step in self.plan.steps:
            bounds.append((start, start + step.duration_s))
            start += step.duration_s
        return bounds

    def step_mask(self, index: int, *, skip_s: float = 0.0) -> Mask:
        """Which requests *completed* in step ``index``, after ``skip_s`` of warm-up.

        Completions, not starts: Locust kills in-flight requests when the plan ends, so counting
        by start time would lose the last step's slowest requests and understate its throughput.
        """
        start, end = self.step_bounds()[index]
        done = self.samples.end_s
        return (start + skip_s <= done) & (done < end)

    def step_samples(self, index: int, *, skip_s: float = 0.0) -> Samples:
        """The requests that completed in step ``index`` after ``skip_s`` (``step_mask``)."""
        return self.samples.take(self.step_mask(index, skip_s=skip_s))

    def throughput(self, index: int, *, skip_s: float = 0.0, status: int | None = None) -> float:
        """Completions per second in step ``index`` (of one status, if given)."""
        start, end = self.step_bounds()[index]
        done = self.step_mask(index, skip_s=skip_s)
        if status is not None:
            done &= self.samples.status == status
        return int(np.count_nonzero(done)) / max(1e-9, end - start - skip_s)


class LocustRun(Component):
    """``with LocustRun(plan) as run: result = run.wait()`` — Locust's processes, always ended."""

    name = "locust"
    dir_prefix = "drills-locust-"

    def __init__(self, plan: LoadPlan, placement: Placement | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.placement = placement or Placement()
        # Checked here, before any process starts.
        locust_commands(plan, self.placement, master_port=0)
        self._workers: list[ManagedProcess] = []
        self._cpu: CpuSampler | None = None

    def start(self) -> None:
        workdir = self._make_dir()
        env = {**os.environ, "DRILLS_LOAD_PLAN": json.dumps({
            "out_dir": str(workdir), "path": self.plan.path, "request_timeout_s": self.plan.request_timeout_s,
            "spawn_rate": self.plan.spawn_rate, "pacing_s": self.plan.effective_pacing_s, "drain_s": self.plan.drain_s,
            "steps": [[s.users, s.duration_s, s.spawn_rate or self.plan.spawn_rate] for s in self.plan.steps],
        })}
        # Free on this machine's loopback; in a fresh namespace (a master_prefix) every port is free.
        master_argv, workers_argv = locust_commands(self.plan, self.placement, master_port=pick_free_port())
        for n, argv in enumerate(workers_argv, start=1):
            self._workers.append(ManagedProcess(f"locust-worker-{n}", argv, log_path=workdir / f"worker-{n}.log",
                                                env=env, cwd=workdir, stop_signal=signal.SIGTERM, grace_s=5.0))
        master = ManagedProcess(self.name, master_argv, log_path=workdir / "locust.log", env=env,
                                cwd=workdir, stop_signal=signal.SIGTERM, grace_s=10.0)
        for worker in self._workers:
            worker.start()
        # Ready once the test has started (all workers connected, in distributed mode).
        self._launch(master, lambda: any(workdir.glob("started-*")), 60.0 + 5 * len(self._workers))
        self._cpu = CpuSampler([p.pid for p in (master, *self._workers) if p.pid])
        self._cpu.start()

    @property
    def worker_pids(self) -> list[int]:
        """The worker processes' pids, in order (none in single-process mode or before start)."""
        return [w.pid for w in self._workers if w.pid]

    def wait(self) -> LoadResult:
        """Block until the plan is done; return every sample. Raises ComponentError on a crash."""
        assert self._process is not None and self.dir is not None, "not started"
        deadline = time.monotonic() + self.plan.total_s + self.plan.drain_s + 60.0
        while self._process.poll() is None:
            if time.monotonic() > deadline:
                raise ComponentError(self.name, f"still running {self.plan.total_s + 60:g} s after its plan began",
                                     self._process.log_tail())
            time.sleep(0.1)
        for worker in self._workers:
            worker.stop()
        if self._cpu is not None:
            self._cpu.stop()
        if self._process.poll() not in (0,):
            raise ComponentError(self.name, f"exited with code {self._process.poll()}", self._process.log_tail())
        return self._collect()

    def stop(self) -> None:
        if self._cpu is not None:
            self._cpu.stop()
        for worker in self._workers:
            worker.stop()
        super().stop()

    def _collect(self) -> LoadResult:
        assert self.dir is not None
        started = min(float(p.read_text()) for p in self.dir.glob("started-*"))
        samples = read_records(self.dir)
        logs = "\n".join(p.read_text(errors="replace") for p in self.dir.glob("*.log"))
        warnings = sorted({line.split("] ", 1)[-1].strip() for line in logs.splitlines()
                           if "WARNING" in line or "CPU usage" in line})
        result = LoadResult(self.plan, samples, started, [], warnings)
        assert self._cpu is not None
        result.step_cpu_pct = [self._cpu.max_pct(start, end) for start, end in result.step_bounds()]
        result.step_total_cpu_pct = [self._cpu.total_pct(start, end) for start, end in result.step_bounds()]
        return result
