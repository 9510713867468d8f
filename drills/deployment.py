"""What a drill measures through: a deployment, and what the drill may do to it.

Two things implement :class:`Deployment`: the embedded local stack the drill started
(``drills.stack.LocalStack``, which can do everything) and a deployment it does not own
(``drills.target.remote.RemoteDeployment``, e.g. staging, reached only as a client). A drill asks
for a :class:`Capability` — "may I read the logs?" — never for the kind of deployment it holds, so
the same measuring code runs against both, and what a target cannot show is reported *not judged*.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

if TYPE_CHECKING:
    import psycopg

    from .stack.http import Endpoint
    from .stack.rollout import Restart, Rollout

#: The environment variable that carries a target's database DSN (never a parameter: papermill
#: writes every parameter into the executed notebook).
TARGET_DSN_ENV = "DRILLS_TARGET_DSN"

#: A component whose log a drill may read ("proxy": nginx's error log; "proxy-access": its access log).
LogSource = Literal["postgres", "service", "proxy", "proxy-access"]


class Capability(str, enum.Enum):
    """What a drill may need to do to a deployment; the value completes "the drill cannot …"."""

    OWNS_STACK = "start the components with settings of its own (another ladder, pool size or queue bound)"
    LOGS = "read the components' logs (PostgreSQL, Gunicorn, nginx)"
    PROCESSES = "watch the service's processes (their CPU)"
    LEDGER = "read the service's request ledger (when each handler really ended)"
    DATABASE = f"query the database (pg_stat_activity); set {TARGET_DSN_ENV} to allow it"
    RESTARTS = "replace the service's replicas one by one (reload the proxy, stop and start Gunicorn)"


#: The local stack: the drill started every component, so it can do everything.
EVERYTHING = frozenset(Capability)


class ReadBack(TypedDict, total=False):
    """The settings each component reported itself, as findings keep them per configuration."""

    #: PostgreSQL's ``SHOW`` of each setting, as it prints it ("500ms", "20").
    postgres: dict[str, str]
    #: Gunicorn's and the Uvicorn worker's effective config, and the app's /config answer.
    service: dict[str, Any]
    #: nginx's directives as ``nginx -T`` parsed them (or why they cannot be read).
    nginx: dict[str, str]
    #: A target the drill does not own, as it was described (no credentials).
    target: dict[str, Any]


class Deployment(Protocol):
    """The measuring surface every drill uses, whoever runs the components."""

    @property
    def owned(self) -> bool:
        """True when the drill started every component (the local stack)."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the drill may do here beyond sending requests."""
        ...

    @property
    def entry(self) -> Endpoint:
        """Where clients send requests (nginx, or the target's ingress)."""
        ...

    @property
    def metrics(self) -> tuple[Endpoint, ...]:
        """Where the service's /metrics is read: each replica past the proxy where the drill can
        reach them (their figures are summed), else the entry point."""
        ...

    @property
    def ledger_dirs(self) -> tuple[Path, ...]:
        """Each replica's request ledger folder (none without Capability.LEDGER)."""
        ...

    @property
    def ready_s(self) -> float:
        """Seconds until the deployment answered as ready."""
        ...

    @property
    def max_rps(self) -> float | None:
        """The cap on requests per second (None: none, as on the local stack)."""
        ...

    @property
    def max_duration_s(self) -> float | None:
        """The cap on seconds of load (None: none)."""
        ...

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A database connection for observing (needs Capability.DATABASE)."""
        ...

    def read_back(self) -> ReadBack:
        """Every component's effective settings, as far as the drill can read them."""
        ...

    def app_settings(self) -> dict[str, Any]:
        """The service's own knobs as it reports them on /config (pool, budget, session)."""
        ...

    def component_versions(self) -> dict[str, str]:
        """Versions of the servers the drill measured (for provenance)."""
        ...

    def log(self, source: LogSource) -> str:
        """A component's log so far (needs Capability.LOGS)."""
        ...

    def service_pids(self) -> list[int]:
        """The service's processes, master first (needs Capability.PROCESSES; else empty)."""
        ...

    def describe(self) -> str:
        """One line for progress messages."""
        ...

    def restart_replica(self, replica: int, rollout: Rollout, say: Callable[[str], None] | None = None) -> Restart:
        """Replace one replica as a rolling deploy does (needs Capability.RESTARTS)."""
        ...
