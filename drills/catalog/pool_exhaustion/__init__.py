"""The pool-exhaustion drill: does the connection budget hold, and does the pool fail fast?

Load comes from Locust (closed-loop users, its own process) through nginx into the service, whose
endpoint holds a pooled connection for ``hold_s`` (``pg_sleep``). Three configurations, each on a
fresh stack:

* ``recommended`` — concurrency steps past the pool's capacity. Little's law predicts the plateau
  (capacity = pool slots ÷ hold time) and the queue's latency (users ÷ capacity); with the pool's
  wait shorter than the proxy's, excess load gets a fast 503 naming the pool, never a proxy 504;
  the server never sees more than workers × max_size connections, and an admin still connects.
* ``oversubscribed`` — workers × max_size above what the server allows, on purpose: the refusals
  (SQLSTATE 53300) show in the server log and the pool's connection errors, not in the app, which
  only sees PoolTimeout after the whole wait.
* ``bounded`` — ``max_waiting`` set: requests past the bound fail at once, and the admitted ones
  keep a bounded p99.

Percentiles come from raw per-request samples; where Locust saturated its core, the verdicts that
rest on its numbers are inconclusive.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import stack_config, users_for
from .judge import PLATEAU_FACTOR, judge
from .measure import measure
from .observations import Run, outcome
from .params import CONFIGURATIONS, DRILL_CONNECTIONS, Params
from .steps import StepStats, step_stats

SPEC: DrillSpec[Params, Run] = DrillSpec(
    name="pool-exhaustion",
    paper="connection-pools.md",
    notebook="pool-exhaustion.ipynb",
    params=Params,
    # Against a target it does not own, only the recommended configuration runs (as deployed).
    configurations=(Configuration("recommended", on_target=True), Configuration("oversubscribed"),
                    Configuration("bounded")),
    stack_config=stack_config,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    # What judging a hypothesis (or a configuration's) needs beyond sending requests.
    needs={
        "oversubscribed": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
        "bounded": frozenset({Capability.OWNS_STACK}),
        "recommended.server-connections-bounded": frozenset({Capability.DATABASE}),
        "recommended.admin-connects-at-peak": frozenset({Capability.DATABASE}),
        "recommended.no-refused-connections": frozenset({Capability.LOGS}),
    },
    # The drill predicts from its pool parameters: on a target they must be the deployed pool's.
    target_settings={"pool_max_size": "pool_max_size", "pool_timeout_s": "pool_timeout_s"},
    headlines=("recommended.capacity-littles-law", "recommended.latency-grows-with-queue", "bounded.admitted-p99"),
)

__all__ = ["CONFIGURATIONS", "DRILL_CONNECTIONS", "PLATEAU_FACTOR", "SPEC", "Params", "Run", "StepStats", "judge",
           "outcome", "stack_config", "step_stats", "users_for"]
