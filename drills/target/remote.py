"""A deployment the drill does not own, measured from outside: requests to its URL, and (with
``DRILLS_TARGET_DSN``) a read-only look at its database's ``pg_stat_activity``.

The target must run the drills' demo service (``drills/app``): the drills call its ``/work``,
``/config`` and ``/metrics`` endpoints. Entering checks that before any load is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from ..deployment import Capability, LogSource, ReadBack
from ..errors import ComponentError, MeasurementError
from . import TargetSpec

if TYPE_CHECKING:
    from ..stack.rollout import Restart, Rollout

_SETTINGS = ("server_version", "max_connections", "superuser_reserved_connections", "statement_timeout")


class RemoteDeployment:
    """``with RemoteDeployment(spec) as target:`` — the same measuring surface as LocalStack."""

    owned = False
    ledger_dirs: tuple[Path, ...] = ()

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        self.entry = spec.url
        #: The service's /metrics, asked through the entry point: on a target there is no other way
        #: in, and with several replicas behind it each answer comes from one of them.
        self.metrics = (self.entry,)
        self.capabilities: frozenset[Capability] = spec.capabilities
        self.ready_s = 0.0
        self.max_rps = spec.max_rps
        self.max_duration_s = spec.max_duration_s
        self._config: dict[str, Any] = {}

    def __enter__(self) -> RemoteDeployment:
        started = time.monotonic()
        answer = self.entry.get("/config", timeout_s=10.0)
        try:
            body = json.loads(answer.body) if answer.status == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or "app" not in body:
            seen = f"HTTP {answer.status}" if answer.status else f"no answer ({answer.failure})"
            raise ComponentError(
                f"target {self.entry.url}", f"did not answer GET /config like the drills service ({seen}); "
                "deploy drills/app behind it (README: Running a drill against staging) and check the URL")
        self._config = body
        self.ready_s = time.monotonic() - started
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to stop: the drill started nothing there."""

    def app_settings(self) -> dict[str, Any]:
        """The service's own knobs as one of its workers reports them (pool, budget, session)."""
        return {**self._config.get("app", {}), **self._config.get("database_session", {})}

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection to the target's database with DRILLS_TARGET_DSN (only with that capability)."""
        if self.spec.dsn is None:
            raise MeasurementError(f"no database connection to the target: {Capability.DATABASE.value}")
        return psycopg.connect(self.spec.dsn, autocommit=True, connect_timeout=5,
                               application_name="drills-observer", **kwargs)

    def read_back(self) -> ReadBack:
        settings: ReadBack = {
            "target": self.spec.describe().to_dict(),
            "service": {"workers": "not readable on a target", **self.app_settings()},
            "nginx": {"note": "the target's proxy is not the drill's: its timeouts are not read back"},
        }
        if self.spec.dsn:
            with self.connect() as conn:
                rows = {name: conn.execute(f"SHOW {name}").fetchone() for name in _SETTINGS}
            settings["postgres"] = {name: str(row[0]) if row else "" for name, row in rows.items()}
        return settings

    def component_versions(self) -> dict[str, str]:
        """The target's PostgreSQL version, when DRILLS_TARGET_DSN lets the drill ask."""
        if not self.spec.dsn:
            return {}
        with self.connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return {"postgresql (target)": str(row[0])} if row else {}

    def log(self, source: LogSource) -> str:
        raise MeasurementError(f"no {source} log from the target: the drill cannot {Capability.LOGS.value}")

    def service_pids(self) -> list[int]:
        """None: the target's processes run on machines the drill does not own."""
        return []

    def describe(self) -> str:
        return f"target {self.entry.url} (not owned)"

    def restart_replica(self, replica: int, rollout: Rollout, say: Callable[[str], None] | None = None) -> Restart:
        raise MeasurementError(f"no restarts on the target: the drill cannot {Capability.RESTARTS.value}")
