"""The service under test on Gunicorn: the FastAPI app on Uvicorn workers, or the Flask or Django
app on ``sync`` or ``gthread`` workers (``ServiceConfig.framework``, ``worker_class``, ``threads``)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app.settings import AppSettings, AppTuning
from ..errors import ComponentError, ParameterError
from .children import kill_group, signal_quietly
from .cpu import children
from .http import http_get
from .ports import LOOPBACK
from .process import Component, ManagedProcess

#: The worker classes each framework's users run on Gunicorn (FACTS-wsgi §1): FastAPI on Uvicorn
#: workers; Flask and Django (WSGI) on ``sync`` or ``gthread``. The first is the default.
WORKER_CLASSES: dict[str, tuple[str, ...]] = {
    "fastapi": ("uvicorn",),
    "flask": ("sync", "gthread"),
    "django": ("sync", "gthread"),
}
#: What Gunicorn imports for each framework.
APP_TARGETS = {
    "fastapi": "drills.app.main:app",
    "flask": "drills.app.flask_app:app",
    "django": "drills.app.django_app:application",
}
#: Gunicorn's ``--worker-class`` for each of ours.
GUNICORN_WORKER_CLASSES = {"uvicorn": "uvicorn_worker.UvicornWorker", "sync": "sync", "gthread": "gthread"}
MAX_THREADS = 64


@dataclass(frozen=True, kw_only=True)
class ServiceConfig(AppTuning):
    """Knobs of the service: Gunicorn's, and the app's own (pool, budget: ``AppTuning``). Seconds
    unless the name says otherwise.

    Gunicorn's ``timeout``, ``graceful_timeout`` and ``keepalive`` are whole seconds (Gunicorn
    validates them as integers); psycopg_pool's timeout and the request budget are floats.
    """

    #: Which app Gunicorn runs: ``fastapi``, ``flask`` or ``django``.
    framework: str = "fastapi"
    #: Gunicorn worker class, one of ``WORKER_CLASSES[framework]``; empty means the framework's
    #: first (``uvicorn`` for fastapi, ``sync`` for flask and django).
    worker_class: str = ""
    #: Threads per worker: only ``gthread`` uses them (Gunicorn's ``--threads``).
    threads: int = 1
    workers: int = 2
    #: Gunicorn's heartbeat limit: how long a worker's event loop may stay blocked.
    gunicorn_timeout_s: int = 30
    graceful_timeout_s: int = 5
    #: Gunicorn ``keepalive``, mapped by UvicornWorker to uvicorn's ``timeout_keep_alive``.
    keepalive_s: int = 5
    start_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        """Refuse a framework, worker class or thread count Gunicorn would not run as asked, before
        any process starts (raises ``ParameterError`` naming the parameter and what is allowed)."""
        super().__post_init__()  # the app's own knobs (AppTuning: the retry policy)
        if self.framework not in WORKER_CLASSES:
            raise ParameterError("framework", self.framework, f"one of {', '.join(WORKER_CLASSES)}")
        allowed = WORKER_CLASSES[self.framework]
        if not self.worker_class:
            object.__setattr__(self, "worker_class", allowed[0])  # frozen: resolved once, here
        if self.worker_class not in allowed:
            raise ParameterError("worker_class", self.worker_class,
                                 f"with framework={self.framework}: one of {', '.join(allowed)}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or not 1 <= self.threads <= MAX_THREADS:
            raise ParameterError("threads", self.threads, f"an integer 1–{MAX_THREADS}")
        if self.threads > 1 and self.worker_class != "gthread":
            # Gunicorn silently runs sync with threads > 1 as gthread; uvicorn ignores threads.
            raise ParameterError("threads", self.threads,
                                 f"must be 1 with worker_class={self.worker_class}; threads > 1 needs gthread")
        if self.framework == "flask":
            self._check_queue_pool()

    def _check_queue_pool(self) -> None:
        """The knobs SQLAlchemy's QueuePool can express (drills.app.flask_app)."""
        if self.pool_min_size < 1:  # pool_size=0 means "no limit" to SQLAlchemy
            raise ParameterError("pool_min_size", self.pool_min_size, "at least 1 with framework=flask (QueuePool)")
        if self.pool_max_size < self.pool_min_size:
            raise ParameterError("pool_max_size", self.pool_max_size,
                                 f"at least pool_min_size={self.pool_min_size} (max_overflow would be negative)")
        if self.pool_max_waiting != 0:
            raise ParameterError("pool_max_waiting", self.pool_max_waiting,
                                 "must be 0 with framework=flask: QueuePool's queue has no bound")

    @property
    def app_target(self) -> str:
        return APP_TARGETS[self.framework]

    @property
    def gunicorn_worker_class(self) -> str:
        return GUNICORN_WORKER_CLASSES[self.worker_class]


@dataclass(frozen=True)
class Termination:
    """One :meth:`Service.terminate`: what got SIGTERM, when (wall clock), and how it ended."""

    #: Gunicorn's master first, then its workers, as they were at SIGTERM.
    pids: tuple[int, ...]
    sigterm_at: float
    exited_at: float
    #: The master's exit code (negative: the signal that ended it); None if it could not be reaped.
    exit_code: int | None
    #: The deadline passed: the whole group was SIGKILLed (the kubelet's kill, not Gunicorn's own).
    killed: bool

    @property
    def took_s(self) -> float:
        return self.exited_at - self.sigterm_at


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
        self._launch(self._gunicorn(), self._all_workers_ready, self.config.start_timeout_s)

    def _gunicorn(self) -> ManagedProcess:
        """Gunicorn's master as a managed process, on this replica's port and folder."""
        assert self.dir is not None, "service not started"
        c = self.config
        settings = AppSettings(conninfo=self._conninfo, state_dir=self.state_dir, **vars(c.tuning()))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DRILLS_APP_"))}
        env.update(settings.to_env())
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.dir / "metrics")
        argv = [
            sys.executable, "-m", "gunicorn", c.app_target,
            "--config", "python:drills.app.gunicorn_hooks",
            "--worker-class", c.gunicorn_worker_class,
            "--workers", str(c.workers),
            "--threads", str(c.threads),
            "--bind", f"{LOOPBACK}:{self.port}",
            "--timeout", str(c.gunicorn_timeout_s),
            "--graceful-timeout", str(c.graceful_timeout_s),
            "--keep-alive", str(c.keepalive_s),
            "--no-control-socket",
            "--log-level", "info",
        ]
        return ManagedProcess(
            self.name, argv, log_path=self.log_path, env=env, cwd=self.dir,
            stop_signal=signal.SIGTERM, grace_s=c.graceful_timeout_s + 5.0,
        )

    def pids(self) -> tuple[int, ...]:
        """Gunicorn's master and its workers now (empty while stopped)."""
        master = self.pid
        return (master, *children(master)) if master is not None and self.running else ()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def terminate(self, kill_after_s: float) -> Termination:
        """Stop this replica the way the kubelet stops a container: SIGTERM to Gunicorn's master (a
        graceful stop: it closes its listeners and gives its workers ``graceful_timeout``), wait for
        it to exit, and SIGKILL the whole group if it is still there ``kill_after_s`` after the
        SIGTERM (the grace period's end). The folder stays (log, ledger, records) for
        :meth:`start_again`."""
        process = self._process
        if process is None or not process.running or process.pid is None:
            raise ComponentError(self.name, "not running")
        pids = self.pids()
        sigterm_at, deadline = time.time(), time.monotonic() + kill_after_s
        signal_quietly(process.pid, signal.SIGTERM)
        code = process.wait_exit(max(0.0, deadline - time.monotonic()))
        killed = code is None
        if killed:
            kill_group(process.pid)
            code = process.wait_exit(5.0)
        exited_at = time.time()
        process.stop()  # reaps it and whatever is left in its group
        self._process = None
        return Termination(pids, sigterm_at, exited_at, code, killed)

    def start_again(self) -> float:
        """Start Gunicorn again on the same port and folder after :meth:`terminate`; return the
        seconds until every worker had opened its pool and ``/readyz`` answered."""
        if self.running:
            raise ComponentError(self.name, "still running; terminate it first")
        # A SIGKILLed master could not remove its workers' ready files (child_exit never ran).
        for stale in self.state_dir.glob("worker-*.ready"):
            stale.unlink(missing_ok=True)
        self._started_at = time.monotonic()
        self._launch(self._gunicorn(), self._all_workers_ready, self.config.start_timeout_s)
        assert self.ready_s is not None
        return self.ready_s

    def records(self, kind: str) -> list[dict[str, Any]]:
        """Every line this replica's workers wrote to ``<kind>-<pid>.jsonl``: see :func:`read_records`."""
        return read_records(self.state_dir, kind)

    def _all_workers_ready(self) -> bool:
        # Gunicorn's master listens before any worker has booted, and a worker is only useful
        # once its pool is open: each worker drops a file then; /readyz proves a round trip.
        # The files, not /readyz, count the workers: a busy sync worker cannot answer.
        ready = list(self.state_dir.glob("worker-*.ready"))
        if len(ready) < self.config.workers:
            return False
        return http_get(self.port, "/readyz", timeout_s=2.0).status == 200

    def effective_settings(self) -> dict[str, Any]:
        """What Gunicorn, the Uvicorn worker (fastapi only) and the app actually run with (read
        back): ``gunicorn`` (workers, worker_class, threads, timeout, …), ``uvicorn`` (None for
        WSGI), ``app`` (its /config: knobs, pool statistics, ``pool_config`` for flask and django,
        database session), and ``framework``/``worker_class``/``threads`` from those readings."""
        result: dict[str, Any] = {}
        for name in ("gunicorn", "uvicorn"):
            path = self.state_dir / f"{name}.json"
            result[name] = json.loads(path.read_text()) if path.exists() else None
        response = http_get(self.port, "/config", timeout_s=5.0)
        result["app"] = json.loads(response.body) if response.status == 200 else None
        gunicorn = result["gunicorn"] or {}
        result["framework"] = (result["app"] or {}).get("framework")
        result["worker_class"] = gunicorn.get("worker_class")
        result["threads"] = gunicorn.get("threads")
        return result

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def read_records(state_dir: Path, kind: str) -> list[dict[str, Any]]:
    """Every line the workers wrote to ``<kind>-<pid>.jsonl`` in a replica's state folder
    (``lifecycle``, ``inflight``, ``ledger``), all workers and restarts, in file order; a torn last
    line is skipped."""
    out: list[dict[str, Any]] = []
    for path in sorted(state_dir.glob(f"{kind}-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
