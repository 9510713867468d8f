"""The proxy-upstreams drill: the three settings between nginx and its upstreams that the timeout
paper calls anti-patterns, each measured against the recommended setting on the real stack.

Two service replicas (each its own Gunicorn) behind one nginx ``upstream``:

* ``recommended`` — nginx's upstream keepalive_timeout below Gunicorn's keep-alive,
  ``proxy_next_upstream error``, tries 2, ``max_fails=3``: no request meets a closed connection, a
  slow GET runs once, a slow request per replica ejects nothing;
* ``keepalive-inverted`` — Gunicorn's keep-alive below nginx's: requests meet closed connections;
* ``retry-timeout`` — ``proxy_next_upstream error timeout``: a slow GET runs on both replicas;
* ``max-fails-1`` — one timeout per replica takes both out: nginx answers 502 "no live upstreams".

What nginx did is read from its error log, what the service did from its ledger of tagged requests.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import describe, stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .measure import measure
from .observations import Request, UpstreamRun, classify, parse_error_log, parse_ledgers
from .params import CONFIGURATIONS, Params

_OWNED = frozenset({Capability.OWNS_STACK, Capability.LOGS, Capability.LEDGER})

SPEC: DrillSpec[Params, UpstreamRun] = DrillSpec(
    name="proxy-upstreams",
    paper="timeout-ladders.md",
    notebook="proxy-upstreams.ipynb",
    params=Params,
    # Every measurement sets nginx and Gunicorn itself: none runs against a target it does not own.
    configurations=(Configuration("recommended", runs=("recommended-keepalive", "recommended-retry",
                                                       "recommended-eject")),
                    Configuration("keepalive-inverted"), Configuration("retry-timeout"), Configuration("max-fails-1")),
    stack_config=stack_config,
    describe=describe,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    needs=dict.fromkeys(CONFIGURATIONS, _OWNED),
    headlines=("keepalive-inverted.stale-connection-errors",),
    falsifiers=FALSIFIERS,
)

__all__ = ["CONFIGURATIONS", "SPEC", "Params", "Request", "UpstreamRun", "classify", "judge", "parse_error_log",
           "parse_ledgers"]
