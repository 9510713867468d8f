"""The timeout-ladder drill: does the innermost layer give up first, and does work stop with it?

The ladder, inside out: PostgreSQL ``statement_timeout`` < the app's request budget < the proxy's
read timeout < the client's timeout. The drill sends requests client → nginx → Gunicorn/Uvicorn →
PostgreSQL with a delay placed in the database (``pg_sleep``), in the app (an await) or split
between them, on a grid with a point in every band between two rungs, and records for each request
what the client saw, which layer cut it, and how long its query and handler kept running after
the client had its answer.

Three configurations, each on a fresh stack:

* ``recommended`` — the ladder in order: the innermost rung that a delay crosses must answer, on
  time, with a clear error; no proxy error; no query outlives its request.
* ``inverted`` — the proxy's read timeout below ``statement_timeout``: the client gets nginx's 504
  while the query keeps running (the anti-pattern, observed).
* ``heartbeat`` — Gunicorn's ``timeout`` is not a rung for Uvicorn workers: an awaited query longer
  than it completes; a blocking call in the event loop gets the worker killed.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import describe, stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .ladder import Ladder
from .measure import measure
from .observations import LadderRun, LogEvidence, Observation, classify
from .params import CONFIGURATIONS, PLACEMENTS, Params

SPEC: DrillSpec[Params, LadderRun] = DrillSpec(
    name="timeout-ladder",
    paper="timeout-ladders.md",
    notebook="timeout-ladder.ipynb",
    params=Params,
    # Against a target it does not own, the drill sends the recommended grid to the ladder as deployed.
    configurations=(Configuration("recommended", on_target=True), Configuration("inverted"),
                    Configuration("heartbeat")),
    stack_config=stack_config,
    describe=describe,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    needs={
        "inverted": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
        "heartbeat": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
        "recommended.no-orphan-queries": frozenset({Capability.DATABASE}),
    },
    # The drill predicts from its parameters: on a target the ladder is the deployed one, so those
    # it can read back (the app's budget, its session's statement_timeout) must match.
    target_settings={"request_budget_s": "request_budget_s", "statement_timeout_s": "statement_timeout"},
    headlines=("recommended.no-orphan-queries", "inverted.orphan-queries"),
    falsifiers=FALSIFIERS,
)

__all__ = [
    "CONFIGURATIONS",
    "PLACEMENTS",
    "SPEC",
    "Ladder",
    "LadderRun",
    "LogEvidence",
    "Observation",
    "Params",
    "classify",
    "judge",
]
