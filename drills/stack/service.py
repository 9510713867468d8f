"""The service under test: ``drills.app.main:app`` on Gunicorn with Uvicorn workers."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app.settings import AppSettings, AppTuning
from .http import http_get
from .ports import LOOPBACK
from .process import Component, ManagedProcess


@dataclass(frozen=True, kw_only=True)
class ServiceConfig(AppTuning):
    """Knobs of the service: Gunicorn's, and the app's own (pool, budget: ``AppTuning``). Seconds
    unless the name says otherwise.

    Gunicorn's ``timeout``, ``graceful_timeout`` and ``keepalive`` are whole seconds (Gunicorn
    validates them as integers); psycopg_pool's timeout and the request budget are floats.
    """

    workers: int = 2
    #: Gunicorn's heartbeat limit: how long a worker's event loop may stay blocked.
    gunicorn_timeout_s: int = 30
    graceful_timeout_s: int = 5
    #: Gunicorn ``keepalive``, mapped by UvicornWorker to uvicorn's ``timeout_keep_alive``.
    keepalive_s: int = 5
    start_timeout_s: float = 60.0


class Service(Component):
    """``with Service(config, conninfo) as svc:`` — every worker has opened its pool."""

    name = "gunicorn"

    dir_prefix = "drills-svc-"

    def __init__(self, config: ServiceConfig, conninfo: str) -> None:
        super().__init__()
        self.config = config
        self._conninfo = conninfo

    @property
    def state_dir(self) -> Path:
        assert self.dir is not None, "service not started"
        return self.dir / "state"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "service not started"
        return self.dir / "gunicorn.log"

    def start(self) -> None:
        workdir = self._make_dir()
        (workdir / "metrics").mkdir()
        self.state_dir.mkdir()
        self._take_port()
        c = self.config
        settings = AppSettings(conninfo=self._conninfo, state_dir=self.state_dir, **vars(c.tuning()))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DRILLS_APP_"))}
        env.update(settings.to_env())
        env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
        argv = [
            sys.executable, "-m", "gunicorn", "drills.app.main:app",
            "--config", "python:drills.app.gunicorn_hooks",
            "--worker-class", "uvicorn_worker.UvicornWorker",
            "--workers", str(c.workers),
            "--bind", f"{LOOPBACK}:{self.port}",
            "--timeout", str(c.gunicorn_timeout_s),
            "--graceful-timeout", str(c.graceful_timeout_s),
            "--keep-alive", str(c.keepalive_s),
            "--no-control-socket",
            "--log-level", "info",
        ]
        process = ManagedProcess(
            self.name, argv, log_path=self.log_path, env=env, cwd=workdir,
            stop_signal=signal.SIGTERM, grace_s=c.graceful_timeout_s + 5.0,
        )
        self._launch(process, self._all_workers_ready, c.start_timeout_s)

    def _all_workers_ready(self) -> bool:
        # Gunicorn's master listens before any worker has booted, and a worker is only useful
        # once its pool is open: each worker drops a file then; /readyz proves a round trip.
        ready = list(self.state_dir.glob("worker-*.ready"))
        if len(ready) < self.config.workers:
            return False
        return http_get(self.port, "/readyz", timeout_s=2.0).status == 200

    def effective_settings(self) -> dict[str, Any]:
        """What Gunicorn, the Uvicorn worker and the app actually run with (read back)."""
        result: dict[str, Any] = {}
        for name in ("gunicorn", "uvicorn"):
            path = self.state_dir / f"{name}.json"
            result[name] = json.loads(path.read_text()) if path.exists() else None
        response = http_get(self.port, "/config", timeout_s=5.0)
        result["app"] = json.loads(response.body) if response.status == 200 else None
        return result

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
