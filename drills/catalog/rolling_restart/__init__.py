"""The rolling-restart drill: replicas replaced one by one under steady load, the way a Kubernetes
rolling deploy replaces pods (graceful-shutdown.md; design: notes/rolling-restart-drill.md).

* ``recommended`` — the proxy drops a replica before its SIGTERM (preStop sleep > endpoint lag);
  in-flight requests finish within ``graceful_timeout``; preStop + graceful_timeout fit the grace period;
* ``no-prestop`` — SIGTERM while the proxy still sends to the replica;
* ``keepalive-inverted`` — Gunicorn's keep-alive below nginx's: POSTs meet connections being closed.

What the client saw is the drill's own records; what nginx did, its error log; what each worker did
with its requests and its pool, the worker's own records; when its sessions ended, PostgreSQL's log.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import describe, stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .measure import measure
from .observations import RollingRun
from .params import CONFIGURATIONS, Params

_OWNED = frozenset({Capability.OWNS_STACK, Capability.LOGS, Capability.LEDGER, Capability.RESTARTS})
MEASUREMENTS = {"recommended": ("recommended-rolling", "recommended-drain", "recommended-keepalive"),
                "no-prestop": ("no-prestop",), "keepalive-inverted": ("keepalive-inverted",)}

SPEC: DrillSpec[Params, RollingRun] = DrillSpec(
    name="rolling-restart",
    paper="graceful-shutdown.md",
    notebook="rolling-restart.ipynb",
    params=Params,
    # Every measurement restarts replicas itself: none runs against a target it does not own.
    configurations=(Configuration("recommended", runs=MEASUREMENTS["recommended"]), Configuration("no-prestop"),
                    Configuration("keepalive-inverted")),
    stack_config=stack_config,
    describe=describe,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    needs={name: _OWNED for runs in MEASUREMENTS.values() for name in runs} | dict.fromkeys(CONFIGURATIONS, _OWNED),
    headlines=("no-prestop.upstream-failures",),
    falsifiers=FALSIFIERS,
)

__all__ = ["CONFIGURATIONS", "SPEC", "Params", "RollingRun", "judge"]
