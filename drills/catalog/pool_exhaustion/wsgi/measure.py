"""Loading the Flask or Django service with Locust, and watching its pools and the server meanwhile."""

from __future__ import annotations

from ....deployment import Capability
from ....pipeline import Measuring
from ....stack.loadgen import LoadPlan, LoadStep, LocustRun
from ....watch import PoolWatch
from ..observations import Run
from .configurations import hold_for, step_for, users_for
from .params import FlaskPoolParams


def measure(m: Measuring[FlaskPoolParams]) -> Run:
    """One configuration under load: its steps of closed-loop users, with the pools' /metrics and
    the app's connections in pg_stat_activity (with a database) sampled every sample_interval_s."""
    deployment, params, name = m.deployment, m.params, m.configuration
    users = users_for(params, name)
    plan = LoadPlan(target_url=deployment.entry.url, path=f"/work?db_s={hold_for(params, name)}",
                    steps=tuple(LoadStep(u, step_for(params, name)) for u in users),
                    request_timeout_s=params.proxy_read_timeout_s + 5, workers=params.locust_workers,
                    **m.load_caps())
    sampler = deployment.connect if Capability.DATABASE in deployment.capabilities else None
    with PoolWatch(sampler, deployment.metrics, params.sample_interval_s,
                   role="app" if deployment.owned else None) as watch:
        with LocustRun(plan) as locust:
            m.say(f"  {name}: Locust started; {len(users)} step(s) of {step_for(params, name):g} s: "
                  f"{', '.join(map(str, users))} users, each request holding a connection {hold_for(params, name):g} s")
            result = locust.wait()
            m.keep_samples(result)
        watch.check()
    m.say(f"  {name}: {len(result.samples)} requests")
    return Run(name, users, result, list(watch.readings), 0, [])
