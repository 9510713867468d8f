"""The pool-exhaustion drill: does the connection budget hold, and does the pool fail fast?

Load comes from Locust (closed-loop users, its own process) through nginx into the service, whose
endpoint holds a pooled connection for ``hold_s`` (``pg_sleep``). Three configurations, each on a
fresh stack:

* ``recommended`` — concurrency steps past the pool's capacity. Little's law predicts the plateau
  (capacity = pool slots ÷ hold time) and the pools' own wait for a connection ((users − slots) ×
  hold ÷ slots, read from their /metrics); with the pool's wait shorter than the proxy's, excess load
  gets a fast 503 naming the pool, never a proxy 504; the pools grow under load (min_size below
  max_size) and the server never sees more than workers × max_size connections; with every
  non-reserved slot taken at the peak (the app's, and filler connections of an ordinary role for the
  rest), an admin still connects.
* ``oversubscribed`` — workers × max_size above what the server grants, on purpose: the pools count
  refused connections (53300 in the server's log) and clients get pool-timeout 503s the promised
  slots would have spared them. The drill holds no connection while this load runs; its census at
  the peak finds the app holding every non-reserved slot, and a superuser still connects.
* ``bounded`` — ``max_waiting`` set: every request the pools cannot take fails at once, and the
  admitted ones keep a bounded p99.

Every hypothesis has a falsifier (``falsifiers.py``): a harmful stack under which it must fail.
Percentiles come from raw per-request samples; where Locust saturated its core, the verdicts that
rest on its numbers are inconclusive.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from ..recommended_stack import LOAD_DRILL_TIME_SCALE
from . import charts, report
from .configurations import stack_config, users_for
from .falsifiers import FALSIFIERS
from .judge import PLATEAU_FACTOR, judge
from .measure import measure
from .observations import PeakCensus, Run, SlotCount, outcome
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
        # It fills the server's ordinary slots first: never on a server the drill does not own.
        "recommended.admin-connects-at-peak": frozenset({Capability.DATABASE, Capability.OWNS_STACK}),
        "recommended.no-refused-connections": frozenset({Capability.LOGS}),
    },
    # The drill predicts from its pool parameters: on a target they must be the deployed pool's.
    target_settings={"pool_max_size": "pool_max_size", "pool_timeout_s": "pool_timeout_s"},
    headlines=("recommended.capacity-littles-law", "recommended.latency-grows-with-queue", "bounded.admitted-p99"),
    falsifiers=FALSIFIERS,
    time_scale=LOAD_DRILL_TIME_SCALE,
    load_generator="Locust",
)

__all__ = ["CONFIGURATIONS", "DRILL_CONNECTIONS", "FALSIFIERS", "PLATEAU_FACTOR", "SPEC", "Params", "PeakCensus", "Run",
           "SlotCount", "StepStats", "judge", "outcome", "stack_config", "step_stats", "users_for"]
