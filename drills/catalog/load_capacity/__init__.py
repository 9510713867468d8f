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

Every hypothesis has a falsifier (``falsifiers.py``): a harmful stack under which it must fail.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from ..recommended_stack import LOAD_DRILL_TIME_SCALE
from . import charts, report
from .configurations import stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .measure import measure
from .params import CONFIGURATIONS, Params
from .steps import (
    RESOLVING_SE,
    Knee,
    Measured,
    Step,
    knee,
    littles_law_error_pct,
    littles_law_se_pct,
    locate_knee,
    resolves,
    steps_of,
)

SPEC: DrillSpec[Params, Measured] = DrillSpec(
    name="load-capacity",
    paper="load-testing.md",
    notebook="load-capacity.ipynb",
    params=Params,
    # One stack runs the step load, then the unshed overload; against a target it does not own the
    # drill runs only those two (the shedding stack needs a pool setting of its own).
    configurations=(Configuration("recommended", runs=("recommended", "no-shedding"), on_target=True),
                    Configuration("shedding")),
    stack_config=stack_config,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    needs={"shedding": frozenset({Capability.OWNS_STACK})},
    # The drill predicts from its pool's size and timeout: on a target they must match the deployed ones.
    target_settings={"pool_max_size": "pool_max_size", "pool_timeout_s": "pool_timeout_s"},
    headlines=("recommended.knee-below-capacity", "recommended.littles-law", "shedding.admitted-p99-within-slo"),
    falsifiers=FALSIFIERS,
    time_scale=LOAD_DRILL_TIME_SCALE,
    load_generator="Locust",
)

__all__ = ["CONFIGURATIONS", "FALSIFIERS", "RESOLVING_SE", "SPEC", "Knee", "Measured", "Params", "Step", "judge",
           "knee", "littles_law_error_pct", "littles_law_se_pct", "locate_knee", "resolves", "steps_of"]
