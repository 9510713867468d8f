"""The pool drill for Flask and Django (``pool-exhaustion-flask``, ``pool-exhaustion-django``):
SQLAlchemy's QueuePool and Django's psycopg pool on Gunicorn's ``gthread`` workers, with more threads
than pool connections (``notes/framework-drills.md`` §6). Two configurations, each on a fresh stack:

* ``recommended`` — Locust steps past the pools' capacity: the server never sees more app connections
  than workers × pool_max_size, whatever the threads want, and throughput levels off at
  workers × min(threads, pool_max_size) ÷ hold (Little's law);
* ``gthread`` — users holding connections longer than the pool's wait: every request the pool cannot
  serve in time gets the app's named 503 ``pool_timeout`` at the pool's wait, never a hang or a 504.

Its real-stack test is ``tests/drills/test_pool_exhaustion_frameworks.py``.
"""

from __future__ import annotations

from ....deployment import Capability
from ....findings import Chart
from ....pipeline import Configuration, DrillSpec
from ...recommended_stack import LOAD_DRILL_TIME_SCALE
from .. import report as fastapi_report
from ..observations import Run
from . import report
from .configurations import stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .measure import measure
from .params import CONFIGURATIONS, DRILL, DjangoPoolParams, FlaskPoolParams, drill_name


def _no_charts(*_: object) -> list[Chart]:
    """No charts yet: the tables carry the numbers."""
    return []


def _spec(framework: str, params: type[FlaskPoolParams]) -> DrillSpec[FlaskPoolParams, Run]:
    name = drill_name(framework)
    return DrillSpec(
        name=name,
        paper="connection-pools.md",
        notebook=f"{name}.ipynb",
        params=params,
        configurations=(Configuration("recommended", on_target=True), Configuration("gthread")),
        stack_config=stack_config,
        measure=measure,
        judge=judge,
        tables=report.tables,
        observations=fastapi_report.observations,
        draw=_no_charts,
        needs={"gthread": frozenset({Capability.OWNS_STACK}),
               "recommended.server-connections-bounded": frozenset({Capability.DATABASE})},
        target_settings={"pool_max_size": "pool_max_size", "pool_timeout_s": "pool_timeout_s"},
        headlines=("recommended.capacity-littles-law", "gthread.pool-503-on-time"),
        falsifiers=FALSIFIERS,
        time_scale=LOAD_DRILL_TIME_SCALE,
        load_generator="Locust",
        framework=framework,
        family=DRILL,
    )


FLASK_SPEC = _spec("flask", FlaskPoolParams)
DJANGO_SPEC = _spec("django", DjangoPoolParams)
SPECS = (FLASK_SPEC, DJANGO_SPEC)

__all__ = ["CONFIGURATIONS", "DJANGO_SPEC", "FLASK_SPEC", "SPECS", "DjangoPoolParams", "FlaskPoolParams", "judge"]
