"""The retry-amplification drill: what retries at each layer do to a struggling dependency, measured
on three replicas behind nginx (retries-backoff.md).

* ``recommended`` — one layer retries each kind of failure, a few times, within a budget, with full
  jitter; nginx passes on only what never reached a replica; keys make a retried POST run once;
* ``naive`` — client, nginx and app each retry every failure: their attempts multiply;
* ``budget`` / ``no-budget`` — a slow spell on one replica, its caller retrying with or without a
  budget: does the overload end with its trigger?

What reached the database is read from the service's ledger (one line per database attempt) and
checked against the server's own count; what nginx did from its error log.
"""

from __future__ import annotations

from ...deployment import Capability
from ...pipeline import Configuration, DrillSpec
from . import charts, report
from .configurations import stack_config
from .falsifiers import FALSIFIERS
from .judge import judge
from .measure import measure
from .observations import Attempt, DbAttempt, RetryRun
from .params import CONFIGURATIONS, Params

_OWNED = frozenset({Capability.OWNS_STACK, Capability.LOGS, Capability.LEDGER, Capability.DATABASE})
MEASUREMENTS = {
    "recommended": ("recommended-amplify", "recommended-jitter", "recommended-resend", "recommended-key",
                    "recommended-conflicts"),
    "naive": ("naive-amplify", "naive-jitter", "naive-key"),
}

SPEC: DrillSpec[Params, RetryRun] = DrillSpec(
    name="retry-amplification",
    paper="retries-backoff.md",
    notebook="retry-amplification.ipynb",
    params=Params,
    # Every measurement sets each layer's retry policy itself: none runs against a target it does not own.
    configurations=(Configuration("recommended", runs=MEASUREMENTS["recommended"]),
                    Configuration("naive", runs=MEASUREMENTS["naive"]),
                    Configuration("budget"), Configuration("no-budget")),
    stack_config=stack_config,
    measure=measure,
    judge=judge,
    tables=report.tables,
    observations=report.observations,
    draw=charts.draw,
    needs={name: _OWNED for runs in MEASUREMENTS.values() for name in runs} | dict.fromkeys(CONFIGURATIONS, _OWNED),
    headlines=("naive-amplify.attempts-multiply",),
    falsifiers=FALSIFIERS,
)

__all__ = ["CONFIGURATIONS", "SPEC", "Attempt", "DbAttempt", "Params", "RetryRun", "judge"]
