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

That is the drill for FastAPI (``SPEC``). Flask and Django run on Gunicorn's ``sync`` workers, where
Gunicorn's ``timeout`` *is* a rung (between the request budget and the proxy): their variants
(``FLASK_SPEC``, ``DJANGO_SPEC``; ``notes/framework-drills.md``) share the ladder's and the inverted
ladder's hypotheses and falsifiers, add the rung to the recommended ladder (handlers blocked where
the budget cannot cut them, ``/block``), and replace the heartbeat's: a sync worker's request is
aborted with Gunicorn's own 500 and its query cancelled; a ``gthread`` worker's is not cut at all.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import describe, stack_config
from .falsifiers import FALSIFIERS, WSGI_FALSIFIERS
from .judge import judge
from .ladder import Ladder
from .measure import measure
from .observations import LadderRun, LogEvidence, Observation, classify
from .params import (
    CONFIGURATIONS,
    DRILL,
    FRAMEWORKS,
    PLACEMENTS,
    WSGI_CONFIGURATIONS,
    DjangoParams,
    FlaskParams,
    LadderParams,
    Params,
    drill_name,
)

#: What judging needs of a deployment the drill does not own.
NEEDS = {
    "inverted": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
    "heartbeat": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
    "gthread": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
    "recommended.no-orphan-queries": frozenset({Capability.DATABASE}),
    # Gunicorn's rung is judged with its log (a WORKER TIMEOUT per abort).
    "recommended.worker-timeout-on-time": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
}

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
    needs={k: v for k, v in NEEDS.items() if k not in ("gthread", "recommended.worker-timeout-on-time")},
    # The drill predicts from its parameters: on a target the ladder is the deployed one, so those
    # it can read back (the app's budget, its session's statement_timeout) must match.
    target_settings={"request_budget_s": "request_budget_s", "statement_timeout_s": "statement_timeout"},
    headlines=("recommended.no-orphan-queries", "inverted.orphan-queries"),
    falsifiers=FALSIFIERS,
)


def _wsgi_spec(framework: str, params: type[FlaskParams]) -> DrillSpec[FlaskParams, LadderRun]:
    """The ladder for a WSGI framework on sync (and gthread) workers: the FastAPI drill's pipeline
    with its own parameters, configurations and falsifiers."""
    name = drill_name(framework)
    return DrillSpec(
        name=name,
        paper=SPEC.paper,
        notebook=f"{name}.ipynb",
        params=params,
        configurations=tuple(Configuration(c, on_target=c == "recommended") for c in WSGI_CONFIGURATIONS),
        stack_config=stack_config,
        describe=describe,
        measure=measure,
        judge=judge,
        tables=report.tables,
        observations=report.observations,
        draw=charts.draw,
        needs=NEEDS,
        target_settings=SPEC.target_settings,
        headlines=SPEC.headlines,
        falsifiers=WSGI_FALSIFIERS,
        framework=framework,
        family=DRILL,
    )


FLASK_SPEC = _wsgi_spec("flask", FlaskParams)
DJANGO_SPEC = _wsgi_spec("django", DjangoParams)
#: Every framework's drill, FastAPI first.
SPECS = (SPEC, FLASK_SPEC, DJANGO_SPEC)

__all__ = [
    "CONFIGURATIONS",
    "DJANGO_SPEC",
    "FLASK_SPEC",
    "FRAMEWORKS",
    "PLACEMENTS",
    "SPEC",
    "SPECS",
    "WSGI_CONFIGURATIONS",
    "DjangoParams",
    "FlaskParams",
    "Ladder",
    "LadderParams",
    "LadderRun",
    "LogEvidence",
    "Observation",
    "Params",
    "classify",
    "judge",
]
