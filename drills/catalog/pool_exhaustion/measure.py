"""Loading a deployment with Locust, and watching its pools and the server meanwhile."""

from __future__ import annotations

import threading
import time

import psycopg

from ...deployment import Capability, Deployment
from ...pipeline import Measuring
from ...stack.loadgen import LoadPlan, LoadStep, LocustRun
from ...watch import PoolWatch
from .configurations import users_for
from .observations import Run
from .params import Params


def measure(m: Measuring[Params]) -> Run:
    """One configuration under load: its steps of closed-loop users, the pool and server readings,
    an admin probe at the peak (with a database), the server's 53300 refusals (with its log)."""
    deployment, params, name = m.deployment, m.params, m.configuration
    users = users_for(params, name)
    plan = LoadPlan(target_url=deployment.entry.url, path=f"/work?db_s={params.hold_s}",
                    steps=tuple(LoadStep(u, params.step_s) for u in users),
                    request_timeout_s=params.proxy_read_timeout_s + 5, workers=params.locust_workers,
                    pacing_s=params.bounded_pacing_s if name == "bounded" else 0.0, **m.load_caps())
    probes: list[tuple[bool, float]] = []
    database = Capability.DATABASE in deployment.capabilities
    with PoolWatch(deployment.connect if database else None, deployment.metrics, params.sample_interval_s,
                   role="app" if deployment.owned else None) as watch:
        with LocustRun(plan) as locust:
            m.say(f"  {name}: Locust started ({params.locust_workers or 'no'} workers); "
                  f"{len(users)} step(s) of {params.step_s:g} s: {', '.join(map(str, users))} users")
            # Probe an admin connection in the middle of the last (peak) step.
            peak_at = time.monotonic() + params.step_s * (len(users) - 1) + params.step_s / 2
            prober = threading.Thread(target=_probe_admin, args=(deployment, peak_at, probes), daemon=True)
            if database:
                prober.start()
            result = locust.wait()
            if database:
                prober.join(timeout=15)
        watch.check()
    refused = 0
    if Capability.LOGS in deployment.capabilities:
        log = deployment.log("postgres")
        refused = sum(1 for line in log.splitlines() if " 53300 " in line and "FATAL" in line)
    m.say(f"  {name}: {len(result.samples)} requests")
    return Run(name, users, result, list(watch.readings), refused, probes)


def _probe_admin(deployment: Deployment, at: float, probes: list[tuple[bool, float]]) -> None:
    """At ``at``, connect as an admin three times (0.2 s apart); record each try's outcome and time."""
    time.sleep(max(0.0, at - time.monotonic()))
    for _ in range(3):
        started = time.monotonic()
        try:
            with deployment.connect(**({"dbname": "postgres"} if deployment.owned else {})) as conn:
                conn.execute("SELECT 1")
            probes.append((True, time.monotonic() - started))
        except psycopg.Error:
            probes.append((False, time.monotonic() - started))
        time.sleep(0.2)
