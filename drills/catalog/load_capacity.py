"""The load-capacity drill: find the saturation knee, check Little's law, and shed load well.

Locust (its own process; a LoadTestShape drives the steps) sends paced users through nginx into the
service, whose endpoint holds a pooled connection for ``hold_s``. Each user starts at most one
request every ``pacing_s`` — much longer than any latency — so the offered rate (users ÷ pacing)
stays put however slow the service gets: an approximately open workload, without the coordinated
omission of a closed loop. Two stacks:

* ``recommended`` — step load across the pool's Little's-law capacity: per step offered and
  achieved throughput, p50/p95/p99 from raw samples, errors, the service's CPU and its in-flight
  gauge; then the overload (``overload_rate``) without shedding (the ``no-shedding`` run);
* ``shedding`` — the same overload with the pool's ``max_waiting`` bounding the queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..findings import AtLeast, AtMost, Finding, Findings, Hypothesis, Verdict
from ..params import require_between, require_choices
from ..stack import ProxyConfig, ServiceConfig, StackConfig
from ..stack.cpu import CpuSampler, children
from ..target import Capability, TargetSpec
from ..stack.loadgen import SATURATED_CPU_PCT, LoadPlan, LoadResult, LoadStep, LocustRun
from ..stats import percentile, share, span
from ..watch import PoolReading, PoolWatch
from . import load_charts
from .common import (
    Deployment, PooledServiceParams, Progress, Recorder, check_target_settings,
    configurations_on, load_caps, open_deployment, restrict,
)

NAME = "load-capacity"
PAPER = "load-testing.md"
NOTEBOOK = "load-capacity.ipynb"
#: Hypotheses whose values papers show as a trend over the last runs.
HEADLINES = ("recommended.knee-below-capacity", "recommended.littles-law", "shedding.admitted-p99-within-slo")
CONFIGURATIONS = ("recommended", "shedding")
#: Standard errors within which a step's sampled in-flight must resolve the Little's-law tolerance.
RESOLVING_SE = 2.0
#: Against a target it does not own, the drill runs the step load and the unshed overload only.
ON_TARGET = ("recommended",)
#: What judging a hypothesis (or a configuration's) needs beyond sending requests.
NEEDS = {"shedding": frozenset({Capability.OWNS_STACK})}



@dataclass(frozen=True, kw_only=True)
class Params(PooledServiceParams):
    """Knobs of the load-capacity drill. Seconds unless the name says otherwise; rates in req/s."""

    # Step load: offered rates (requests/s), each held step_s.
    rate_steps: str = "20,40,60,80,100,120"
    step_s: float = 6.0
    #: Each user starts at most one request per pacing_s: offered rate = users ÷ pacing_s.
    pacing_s: float = 2.0
    slo_p99_ms: float = 250.0
    # Overload, with and without shedding.
    overload_rate: float = 160.0
    overload_s: float = 6.0
    shed_max_waiting: int = 2
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    locust_workers: int = 0
    sample_interval_s: float = 0.1
    littles_tolerance_pct: float = 10.0
    flat_tolerance_pct: float = 15.0
    fast_ms: float = 100.0

    def check(self) -> None:
        self.check_service()
        if self.workers * self.pool_max_size > self.max_connections - 3:
            raise ParameterError("pool_max_size", self.pool_max_size,
                                 f"workers × pool_max_size = {self.workers * self.pool_max_size} exceeds "
                                 f"max_connections − 3 = {self.max_connections - 3}")
        rates = self.rates()
        if rates != sorted(rates) or len(set(rates)) != len(rates):
            raise ParameterError("rate_steps", self.rate_steps, "must be strictly ascending")
        require_between("step_s", self.step_s, 2, 120, "s")
        require_between("pacing_s", self.pacing_s, 0.1, 30, "s")
        if self.step_s < self.pacing_s + 3:
            raise ParameterError("step_s", self.step_s,
                                 f"must be ≥ pacing_s + 3 = {self.pacing_s + 3:g} (warm-up of pacing_s + 1 s, then ≥ 2 s measured)")
        require_between("slo_p99_ms", self.slo_p99_ms, 1, 60_000, "ms")
        require_between("overload_rate", self.overload_rate, 1, 5000, "req/s")
        require_between("overload_s", self.overload_s, 2, 120, "s")
        if self.overload_s < self.pacing_s + 3:
            raise ParameterError("overload_s", self.overload_s, f"must be ≥ pacing_s + 3 = {self.pacing_s + 3:g}")
        require_between("shed_max_waiting", self.shed_max_waiting, 1, 1000)
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
        require_between("locust_workers", self.locust_workers, 0, 16)
        require_between("sample_interval_s", self.sample_interval_s, 0.02, 2, "s")
        require_between("littles_tolerance_pct", self.littles_tolerance_pct, 1, 100, "%")
        require_between("flat_tolerance_pct", self.flat_tolerance_pct, 1, 100, "%")
        require_between("fast_ms", self.fast_ms, 1, 10_000, "ms")
        users = max(self.users_for(r) for r in [*rates, self.overload_rate])
        if users > 2000:
            raise ParameterError("pacing_s", self.pacing_s, f"rates × pacing need {users} users; keep it ≤ 2000")
        total = len(rates) * self.step_s + 2 * self.overload_s
        if total > 600:
            raise ParameterError("step_s", self.step_s, f"the plan would send load for {total:g} s; keep it ≤ 600 s")

    def planned_load(self) -> tuple[float | None, float]:
        """On a target: the step load and the overload, each run with its drain (2 s)."""
        return max([*self.rates(), self.overload_rate]), len(self.rates()) * self.step_s + self.overload_s + 4.0

    def rates(self) -> list[float]:
        try:
            values = [float(v) for v in self.rate_steps.split(",") if v.strip()]
        except ValueError:
            raise ParameterError("rate_steps", self.rate_steps, "must be numbers separated by commas") from None
        if not values or any(not 0.5 <= v <= 5000 for v in values):
            raise ParameterError("rate_steps", self.rate_steps, "each rate must be 0.5–5000 req/s")
        return values

    @property
    def warmup_s(self) -> float:
        """Skipped at the start of each step: new users start within a second, then pick a phase."""
        return self.pacing_s + 1.0

    def users_for(self, rate: float) -> int:
        return max(1, round(rate * self.pacing_s))



# -- measuring ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One Locust run with what the service did meanwhile."""

    name: str
    rates: list[float]
    load: LoadResult
    readings: list[PoolReading]
    in_flight: list[tuple[float, float]]  # (epoch s, requests in flight at the service)
    service_cpu_pct: list[float]  # per step, all Gunicorn processes together (% of one core)
    settings: dict[str, Any] = field(default_factory=dict)


def stack_config(params: Params, *, shedding: bool) -> StackConfig:
    from ..stack import PostgresConfig

    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections),
        service=ServiceConfig(workers=params.workers, pool_min_size=params.pool_max_size,
                              pool_max_size=params.pool_max_size, pool_timeout_s=params.pool_timeout_s,
                              pool_max_waiting=params.shed_max_waiting if shedding else 0),
        proxy=ProxyConfig(read_timeout_s=params.proxy_read_timeout_s, send_timeout_s=params.proxy_read_timeout_s,
                          next_upstream="off", max_fails=0, upstream_keepalive=64),
    )


def measure(stack: Deployment, params: Params, name: str, rates: list[float], step_s: float,
            say: Progress, target: TargetSpec | None = None) -> Measured:
    steps = []
    previous = 0
    for rate in rates:
        users = params.users_for(rate)
        # New users all start within a second; each then picks a random phase within its period.
        steps.append(LoadStep(users, step_s, spawn_rate=max(1.0, float(users - previous))))
        previous = users
    plan = LoadPlan(target_url=stack.entry.url, path=f"/work?db_s={params.hold_s}",
                    steps=tuple(steps), request_timeout_s=params.proxy_read_timeout_s + 5,
                    workers=params.locust_workers, pacing_s=params.pacing_s, **load_caps(params, target))
    # The service's CPU only where the drill started it (Capability.PROCESSES).
    master = stack.service.pid if Capability.PROCESSES in stack.capabilities else None  # type: ignore[union-attr]
    cpu = CpuSampler(lambda: [master, *children(master)] if master else [], interval_s=0.5).start()
    try:
        with PoolWatch(None, stack.metrics, params.sample_interval_s) as watch:
            with LocustRun(plan) as locust:
                say(f"  {name}: Locust started ({params.locust_workers or 'no'} workers); offered "
                    + ", ".join(f"{r:g}" for r in rates) + f" req/s, {step_s:g} s each")
                result = locust.wait()
            watch.check()
    finally:
        cpu.stop()
    in_flight = [(r.at_s, r.in_flight) for r in watch.readings]
    return Measured(name, rates, result, list(watch.readings), in_flight,
                    [cpu.total_pct(a, b) for a, b in result.step_bounds()])


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


# -- judging ---------------------------------------------------------------------------------------


def judge(params: Params, runs: dict[str, Measured]) -> list[Finding]:
    findings: list[Finding] = []
    rec = runs.get("recommended")
    steps = steps_of(rec, params) if rec else []
    # The generator was the bottleneck where Locust saturated its core, or did not send what was offered.
    busy = [s for s in steps if s.locust_cpu_pct >= SATURATED_CPU_PCT or s.sent_rps < 0.9 * s.rate]
    busy_text = ", ".join(f"{s.rate:g} req/s: sent {s.sent_rps:.1f}/s, Locust at {s.locust_cpu_pct:.0f} % CPU"
                          for s in busy)

    def guarded(h: Hypothesis, observed: float | None, samples: int, detail: str) -> Finding:
        if busy:
            return h.inconclusive(observed, samples, f"the generator was the bottleneck ({busy_text}); {detail}")
        return h.judge(observed, samples, detail)

    # Only steps whose sampled in-flight can resolve the tolerance are judged: below saturation the
    # count in flight varies about as a Poisson count (variance ≈ L), so the mean of n samples has a
    # standard error of about √(L ÷ n), and 2 of them fit in tol × L only from L ≥ 4 ÷ (tol² n):
    # ~13 in flight with 30 samples at 10 %. (On CI a step at L 4.4 missed by 11 %: sampling, not law.)
    judged = [s for s in steps if s.samples > 0 and s.throughput_all > 0
              and s.in_flight >= resolvable_in_flight(s.in_flight_samples, params.littles_tolerance_pct)]
    unresolved = [s for s in steps if s not in judged and s.samples > 0]
    errors = [littles_law_error_pct(s) for s in judged]
    findings.append(guarded(
        Hypothesis("recommended.littles-law",
                   "Mean in-flight requests at the service ≈ throughput counted by the client × mean latency "
                   "at the service (L = λW, one boundary).",
                   AtMost(params.littles_tolerance_pct, "%"), recommended=True),
        max(errors) if errors else None, len(judged),
        "worst of the steps whose in-flight samples resolve the tolerance; " + "; ".join(
            f"{s.rate:g}/s: L {s.in_flight:.2f} vs λW {s.throughput_all * s.service_mean_ms / 1000:.2f} "
            f"(W {s.service_mean_ms:.0f} ms at the service, {s.mean_ms:.0f} ms at the client)" for s in judged)
        + (f"; not resolvable (L below {RESOLVING_SE:g} standard errors of the tolerance): "
           + ", ".join(f"{s.rate:g}/s (L {s.in_flight:.1f} < "
                       f"{resolvable_in_flight(s.in_flight_samples, params.littles_tolerance_pct):.1f})"
                       for s in unresolved) if unresolved else "")))

    k = knee(steps, params.slo_p99_ms)
    broken = [s for s in steps if k is not None and s.rate > k.rate]
    detail = (f"knee {k.rate:g} req/s offered ({k.throughput_ok:.1f} served, p99 {k.p99_ms:.0f} ms ≤ "
              f"{params.slo_p99_ms:g} ms) = {k.throughput_ok / params.workers:.1f} req/s per worker, "
              f"{k.rate / params.capacity_rps:.0%} of capacity; " if k else
              f"no step met the SLO of {params.slo_p99_ms:g} ms (lower the first rate); ")
    detail += f"Little's-law capacity {params.slots} ÷ {params.hold_s:g} s = {params.capacity_rps:.0f} req/s; " \
              + "; ".join(f"{s.rate:g}/s → p99 {s.p99_ms:.0f} ms, {s.error_pct:.0f} % errors" for s in steps)
    h = Hypothesis("recommended.knee-below-capacity",
                   f"The knee — the highest offered rate whose p99 meets the SLO ({params.slo_p99_ms:g} ms) — is "
                   "found, and it lies at or below the pool's Little's-law capacity: an SLO holds only with "
                   "headroom.", AtMost(round(params.capacity_rps, 1), "req/s", tolerance=round(params.capacity_rps * 0.05, 1)),
                   recommended=True)
    if k is not None and not broken:
        findings.append(h.inconclusive(k.rate, len(steps), f"no step broke the SLO (extend rate_steps); {detail}"))
    else:
        findings.append(guarded(h, k.rate if k else None, len(steps), detail))

    past = [s for s in steps if s.rate >= params.capacity_rps and s.samples > 0]
    spread = ((max(s.throughput_ok for s in past) - min(s.throughput_ok for s in past))
              / (sum(s.throughput_ok for s in past) / len(past)) * 100 if len(past) >= 2 else None)
    below = [s for s in steps if s.rate < params.capacity_rps and s.samples > 0]
    rising = len(past) >= 2 and all(b.p99_ms >= a.p99_ms * 0.95 for a, b in zip(past, past[1:])) \
        and bool(below) and past[0].p99_ms > below[-1].p99_ms
    h = Hypothesis("recommended.flat-past-saturation",
                   "Once the offered load passes capacity, served throughput stays flat while latency rises.",
                   AtMost(params.flat_tolerance_pct, "%"), recommended=True, min_samples=2)
    detail = "; ".join(f"{s.rate:g}/s offered → {s.throughput_ok:.1f}/s served, p99 {s.p99_ms:.0f} ms" for s in past)
    if spread is not None and not rising:
        findings.append(Finding.of(h, spread, len(past), Verdict.FAILED, f"latency did not rise; {detail}"))
    else:
        findings.append(guarded(h, spread, len(past), f"spread of served throughput; {detail}"))

    shed, unshed = runs.get("shedding"), runs.get("no-shedding")
    over_busy = [m.load.step_cpu_pct[0] for m in (shed, unshed) if m and m.load.step_cpu_pct[0] >= SATURATED_CPU_PCT]

    def overload_samples(m: Measured | None) -> list:
        return m.load.step_samples(0, skip_s=params.warmup_s) if m else []

    def guarded_over(h: Hypothesis, observed: float | None, samples: int, detail: str) -> Finding:
        if over_busy:
            return h.inconclusive(observed, samples, f"the generator was the bottleneck "
                                  f"({', '.join(f'{c:.0f} %' for c in over_busy)} CPU); {detail}")
        return h.judge(observed, samples, detail)

    shed_samples = overload_samples(shed)
    admitted = [s.latency_ms for s in shed_samples if s.status == 200]
    rejected = [s for s in shed_samples if s.status == 503 and s.error == "pool_queue_full"]
    findings.append(guarded_over(
        Hypothesis("shedding.admitted-p99-within-slo",
                   f"Under {params.overload_rate:g} req/s offered ({params.overload_rate / params.capacity_rps:.1f} × "
                   "capacity), with the pool's queue bounded, the p99 of admitted requests stays within the SLO.",
                   AtMost(params.slo_p99_ms, "ms"), recommended=True),
        percentile(admitted, 99) if admitted else None, len(admitted),
        f"{len(admitted)} admitted, {len(rejected)} shed of {len(shed_samples)}; max_waiting "
        f"{params.shed_max_waiting} per worker"))
    quick = [s for s in rejected if s.latency_ms <= params.fast_ms]
    findings.append(guarded_over(
        Hypothesis("shedding.excess-fast-503",
                   "The excess gets a fast 503 (pool_queue_full) instead of a place in a queue.",
                   AtLeast(100, "%"), recommended=True),
        share(len(quick), len(rejected)), len(rejected),
        f"{len(quick)}/{len(rejected)} shed within {params.fast_ms:g} ms (latencies "
        f"{span([s.latency_ms / 1000 for s in rejected])})"))
    all_ms = [s.latency_ms for s in overload_samples(unshed)]
    findings.append(guarded_over(
        Hypothesis("no-shedding.p99-breaks-slo",
                   "Without shedding, the same overload queues every request: the p99 of all requests breaks "
                   "the SLO.", AtLeast(params.slo_p99_ms, "ms"), recommended=False),
        percentile(all_ms, 99) if all_ms else None, len(all_ms),
        f"{len(all_ms)} requests; statuses "
        f"{dict(sorted(Counter(s.status for s in overload_samples(unshed)).items()))}"))
    return findings


# -- the run ---------------------------------------------------------------------------------------


def run(params: Params, run_dir: Path | str, progress: Progress | None = None) -> Findings:
    """Run the drill, write ``findings.json`` and the charts into ``run_dir``, return the findings."""
    target = params.target()
    rec = Recorder(NAME, PAPER, run_dir, progress)
    runs: dict[str, Measured] = {}
    selected = configurations_on(target, params.selected_configurations(), ON_TARGET)
    for index, name in enumerate(selected, 1):
        rec.starting(index, len(selected), name, target)
        with open_deployment(target, stack_config(params, shedding=name == "shedding")) as stack:
            check_target_settings(params, stack, {"pool_max_size": "pool_max_size",
                                                  "pool_timeout_s": "pool_timeout_s"})
            settings = rec.stack_ready(name, stack)
            if name == "recommended":
                runs[name] = measure(stack, params, name, params.rates(), params.step_s, rec.say, target)
                runs["no-shedding"] = measure(stack, params, "no-shedding", [params.overload_rate],
                                              params.overload_s, rec.say, target)
            else:
                runs[name] = measure(stack, params, name, [params.overload_rate], params.overload_s, rec.say, target)
            runs[name].settings = settings
        rec.say(f"  {name}: {'stack stopped' if target is None else 'done'}")
    rec.say(f"[{NAME}] judging …")
    steps = steps_of(runs["recommended"], params) if "recommended" in runs else []
    return rec.finish(
        params,
        target=target,
        settings={name: m.settings for name, m in runs.items() if m.settings},
        findings=restrict(judge(params, runs), target, NEEDS),
        tables={"step load": steps_table(steps, params), "overload": overload_table(runs, params)},
        observations=[{"run": m.name, "rates": m.rates, "locust_cpu_pct": m.load.step_cpu_pct,
                       "service_cpu_pct": m.service_cpu_pct, "locust_warnings": m.load.warnings,
                       "samples": len(m.load.samples)} for m in runs.values()],
        draw=lambda _findings, out: load_charts.draw(params, runs, steps, out),
    )


def steps_table(steps: list[Step], params: Params) -> list[list[str]]:
    k = knee(steps, params.slo_p99_ms)
    rows = [["offered /s", "sent /s", "served 200/s", "p50 ms", "p95 ms", "p99 ms", "mean ms (service)",
             "errors %", "in flight", "λW", "service CPU %", "Locust CPU %", ""]]
    for s in steps:
        rows.append([f"{s.rate:g}", f"{s.sent_rps:.1f}", f"{s.throughput_ok:.1f}", f"{s.p50_ms:.0f}",
                     f"{s.p95_ms:.0f}", f"{s.p99_ms:.0f}", f"{s.mean_ms:.0f} ({s.service_mean_ms:.0f})",
                     f"{s.error_pct:.1f}", f"{s.in_flight:.2f}",
                     f"{s.throughput_all * s.service_mean_ms / 1000:.2f}", f"{s.service_cpu_pct:.0f}",
                     f"{s.locust_cpu_pct:.0f}", "knee" if k is s else ""])
    return rows


def overload_table(runs: dict[str, Measured], params: Params) -> list[list[str]]:
    rows = [["run", "offered /s", "served 200/s", "shed 503/s", "p50 ms (all)", "p99 ms (all)",
             "p99 ms (admitted)", "Locust CPU %"]]
    for name in ("no-shedding", "shedding"):
        m = runs.get(name)
        if m is None:
            continue
        done = m.load.step_samples(0, skip_s=params.warmup_s)
        window = m.load.plan.steps[0].duration_s - params.warmup_s
        ok = [s.latency_ms for s in done if s.status == 200]
        rows.append([name, f"{params.overload_rate:g}", f"{len(ok) / window:.1f}",
                     f"{sum(1 for s in done if s.status == 503) / window:.1f}",
                     f"{percentile([s.latency_ms for s in done], 50):.0f}",
                     f"{percentile([s.latency_ms for s in done], 99):.0f}", f"{percentile(ok, 99):.0f}",
                     f"{m.load.step_cpu_pct[0]:.0f}"])
    return rows
