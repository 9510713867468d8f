"""Driving Locust through a deployment, and watching the service's in-flight gauge, timer and CPU."""

from __future__ import annotations

from collections.abc import Callable

from ...deployment import Capability
from ...pipeline import Measuring
from ...stack.cpu import CpuSampler
from ...stack.loadgen import LoadPlan, LoadStep, LocustRun
from ...watch import PoolWatch
from .params import Params
from .steps import Measured


def measure(m: Measuring[Params]) -> Measured:
    """One Locust run: the step load under ``recommended``, else the overload held ``overload_s``
    (``no-shedding`` on the recommended stack, ``shedding`` on the stack with a bounded queue)."""
    params = m.params
    if m.run == "recommended":
        rates, step_s = params.rates(), params.step_s
    else:
        rates, step_s = [params.overload_rate], params.overload_s
    return run_load(m, rates, step_s)


def load_plan(m: Measuring[Params], rates: list[float], step_s: float) -> LoadPlan:
    """Paced users for each offered rate, each step held ``step_s``, within the deployment's caps."""
    params = m.params
    steps = []
    previous = 0
    for rate in rates:
        users = params.users_for(rate)
        # New users all start within a second; each then picks a random phase within its period.
        steps.append(LoadStep(users, step_s, spawn_rate=max(1.0, float(users - previous))))
        previous = users
    return LoadPlan(target_url=m.deployment.entry.url, path=f"/work?db_s={params.hold_s}",
                    steps=tuple(steps), request_timeout_s=params.proxy_read_timeout_s + 5,
                    workers=params.locust_workers, pacing_s=params.pacing_s, **m.load_caps())


def run_load(m: Measuring[Params], rates: list[float], step_s: float) -> Measured:
    """Send the plan; meanwhile sample the service's /metrics and, where the drill may watch its
    processes (Capability.PROCESSES), their CPU."""
    deployment, params = m.deployment, m.params
    plan = load_plan(m, rates, step_s)
    pids: Callable[[], list[int]] | list[int] = (deployment.service_pids
                                                 if Capability.PROCESSES in deployment.capabilities else [])
    cpu = CpuSampler(pids, interval_s=0.5).start()
    try:
        with PoolWatch(None, deployment.metrics, params.sample_interval_s) as watch:
            with LocustRun(plan) as locust:
                m.say(f"  {m.run}: Locust started ({params.locust_workers or 'no'} workers); offered "
                      + ", ".join(f"{r:g}" for r in rates) + f" req/s, {step_s:g} s each")
                result = locust.wait()
                m.keep_samples(result)
            watch.check()
    finally:
        cpu.stop()
    in_flight = [(r.at_s, r.in_flight) for r in watch.readings]
    return Measured(m.run, rates, result, list(watch.readings), in_flight,
                    [cpu.total_pct(a, b) for a, b in result.step_bounds()])
