"""Loading a deployment with Locust, and watching its pools and the server meanwhile."""

from __future__ import annotations

import threading
import time

from ...deployment import Capability
from ...pipeline import Measuring
from ...stack.loadgen import LoadPlan, LoadStep, LocustRun
from ...watch import PoolWatch
from .configurations import users_for
from .observations import PeakCensus, Run
from .params import Params
from .peak import at_peak, probe_only, read_limits


def measure(m: Measuring[Params]) -> Run:
    """One configuration under load: its steps of closed-loop users, the pool and server readings,
    at the peak a census of the server's slots and an admin probe (with a database), the server's
    53300 refusals (with its log).

    In the oversubscribed run the drill holds no connection of its own while the load runs — its
    pg_stat_activity sampler would take one of the very slots the app is refused — and counts them
    only at the peak, once the app holds every one it may (then the census sits in a reserved slot).
    """
    deployment, params, name = m.deployment, m.params, m.configuration
    users = users_for(params, name)
    plan = LoadPlan(target_url=deployment.entry.url, path=f"/work?db_s={params.hold_s}",
                    steps=tuple(LoadStep(u, params.duration_s(name)) for u in users),
                    request_timeout_s=params.proxy_read_timeout_s + 5, workers=params.locust_workers,
                    pacing_s=params.bounded_pacing_s if name == "bounded" else 0.0, **m.load_caps())
    probes: list[tuple[bool, float]] = []
    errors_at_probe: list[float] = []
    census = PeakCensus()
    database = Capability.DATABASE in deployment.capabilities
    owned = Capability.OWNS_STACK in deployment.capabilities
    if database and owned:
        read_limits(deployment, census)
    sampler = deployment.connect if database and name != "oversubscribed" else None
    with PoolWatch(sampler, deployment.metrics, params.sample_interval_s,
                   role="app" if deployment.owned else None) as watch:
        def errors_now() -> float:
            return watch.readings[-1].connection_errors_total if watch.readings else 0.0

        with LocustRun(plan) as locust:
            m.say(f"  {name}: Locust started ({params.locust_workers or 'no'} workers); "
                  f"{len(users)} step(s) of {params.duration_s(name):g} s: {', '.join(map(str, users))} users")
            # The census and the admin probes in the middle of the last (peak) step.
            peak_at = time.monotonic() + params.duration_s(name) * (len(users) - 0.5)
            if owned:
                peak = threading.Thread(target=at_peak, args=(deployment, peak_at, census, probes), daemon=True,
                                        kwargs={"fill": name == "recommended", "errors_now": errors_now,
                                                "errors_at_probe": errors_at_probe})
            else:  # a server the drill does not own: it fills nothing there
                peak = threading.Thread(target=probe_only, args=(deployment, peak_at, probes), daemon=True)
            census_run = database and name != "bounded"  # the bounded run's claims need no census
            if census_run:
                peak.start()
            result = locust.wait()
            m.keep_samples(result)
            if census_run:
                peak.join(timeout=15)
        watch.check()
    refused = 0
    if Capability.LOGS in deployment.capabilities:
        log = deployment.log("postgres")
        refused = sum(1 for line in log.splitlines() if " 53300 " in line and "FATAL" in line)
    m.say(f"  {name}: {len(result.samples)} requests")
    return Run(name, users, result, list(watch.readings), refused, probes, census,
               errors_at_probe[0] if errors_at_probe else 0.0)
