"""The service's knobs, read from ``DRILLS_APP_*`` environment variables in one place.

The harness (``drills.stack.service``) writes these variables from a typed ``ServiceConfig``;
Gunicorn's own knobs (workers, timeout, keep-alive) travel as Gunicorn command-line flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "DRILLS_APP_"


@dataclass(frozen=True, kw_only=True)
class AppTuning:
    """The service's own knobs, as the harness sets them (``drills.stack.ServiceConfig`` extends
    this with Gunicorn's). Seconds unless the name says otherwise."""

    pool_min_size: int = 2
    pool_max_size: int = 4
    #: psycopg_pool's wait for a free connection before PoolTimeout.
    pool_timeout_s: float = 0.5
    #: psycopg_pool's max_waiting; 0 means unbounded.
    pool_max_waiting: int = 0
    #: The app's own deadline for a request; 0 disables it.
    request_budget_s: float = 0.0
    #: How long a worker waits at boot for its pool to fill before it fails to boot.
    pool_open_timeout_s: float = 10.0
    #: ``check=AsyncConnectionPool.check_connection``: each connection is tested (one empty query)
    #: as it is handed out, so one the server closed while idle is replaced, not given to a request.
    pool_check: bool = True

    def tuning(self) -> AppTuning:
        """Just the app's knobs (without what a subclass adds)."""
        return AppTuning(**{f.name: getattr(self, f.name) for f in fields(AppTuning)})


@dataclass(frozen=True, kw_only=True)
class AppSettings(AppTuning):
    """What one worker needs: its knobs, where the database is, and a folder it shares with the others."""

    #: libpq conninfo of the app role; holds the password, so it is never logged or reported.
    conninfo: str
    #: Folder shared by the workers: readiness files, Prometheus multiprocess files, read-back.
    state_dir: Path

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> AppSettings:
        def get(name: str, default: str | None = None) -> str:
            value = environ.get(PREFIX + name, default)
            if value is None:
                raise RuntimeError(f"{PREFIX}{name} is not set; the service is started by drills.stack.service")
            return value

        return cls(
            conninfo=get("CONNINFO"),
            state_dir=Path(get("STATE_DIR")),
            pool_min_size=int(get("POOL_MIN_SIZE", "2")),
            pool_max_size=int(get("POOL_MAX_SIZE", "4")),
            pool_timeout_s=float(get("POOL_TIMEOUT_S", "0.5")),
            pool_max_waiting=int(get("POOL_MAX_WAITING", "0")),
            request_budget_s=float(get("REQUEST_BUDGET_S", "0")),
            pool_open_timeout_s=float(get("POOL_OPEN_TIMEOUT_S", "10")),
            pool_check=get("POOL_CHECK", "1") == "1",
        )

    def to_env(self) -> dict[str, str]:
        return {
            PREFIX + "CONNINFO": self.conninfo,
            PREFIX + "STATE_DIR": str(self.state_dir),
            PREFIX + "POOL_MIN_SIZE": str(self.pool_min_size),
            PREFIX + "POOL_MAX_SIZE": str(self.pool_max_size),
            PREFIX + "POOL_TIMEOUT_S": repr(self.pool_timeout_s),
            PREFIX + "POOL_MAX_WAITING": str(self.pool_max_waiting),
            PREFIX + "REQUEST_BUDGET_S": repr(self.request_budget_s),
            PREFIX + "POOL_OPEN_TIMEOUT_S": repr(self.pool_open_timeout_s),
            PREFIX + "POOL_CHECK": "1" if self.pool_check else "0",
        }

    def public(self) -> dict[str, object]:
        """The settings without the conninfo, for /config and findings."""
        return {
            "pool_min_size": self.pool_min_size,
            "pool_max_size": self.pool_max_size,
            "pool_timeout_s": self.pool_timeout_s,
            "pool_max_waiting": self.pool_max_waiting,
            "request_budget_s": self.request_budget_s,
            "pool_check": "check_connection" if self.pool_check else None,
        }
