"""Gunicorn server hooks, loaded with ``-c``: read-back of effective knobs, metric cleanup.

Gunicorn's knobs themselves come from command-line flags; these hooks record what Gunicorn and
each Uvicorn worker actually run with, so findings show the verified values rather than the
configured ones.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

GUNICORN_KNOBS = (
    "workers", "worker_class", "threads", "worker_connections", "timeout", "graceful_timeout", "keepalive",
    "backlog", "max_requests", "bind",
)
UVICORN_KNOBS = (
    "timeout_keep_alive", "timeout_notify", "timeout_graceful_shutdown", "limit_concurrency",
    "limit_max_requests", "backlog",
)


def _state_dir() -> Path:
    return Path(os.environ["DRILLS_APP_STATE_DIR"])


def _write(name: str, payload: dict[str, Any]) -> None:
    """Write a read-back file atomically; never let a failure here stop a worker from booting."""
    path = _state_dir() / name
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")  # every worker writes at once: one temp each
    try:
        tmp.write_text(json.dumps(payload, default=str, sort_keys=True))
        os.replace(tmp, path)
    except OSError as exc:
        print(f"drills: could not record {name}: {exc}", file=sys.stderr, flush=True)


def _clear_multiprocess_dir() -> None:
    """Remove prometheus_client's files of an earlier run: they would be summed into this one's
    metrics, and a new worker with a recycled pid would carry on an old worker's values (its docs:
    wipe the folder before Gunicorn starts). The local stack gives every run a new folder; a
    container restarted inside its pod keeps its emptyDir, and its pids start again at 1."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    for path in Path(folder).glob("*.db"):
        path.unlink(missing_ok=True)


def on_starting(server: Any) -> None:
    _clear_multiprocess_dir()
    knobs = {name: server.cfg.settings[name].get() for name in GUNICORN_KNOBS}
    # What Gunicorn will run: `sync` with threads > 1 silently becomes gthread (FACTS-wsgi §1).
    knobs["worker_class"] = server.cfg.worker_class_str
    _write("gunicorn.json", knobs)


def post_worker_init(worker: Any) -> None:
    config = getattr(worker, "config", None)  # UvicornWorker keeps its uvicorn.Config here
    if config is not None:
        _write("uvicorn.json", {name: getattr(config, name, None) for name in UVICORN_KNOBS})


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    (_state_dir() / f"worker-{worker.pid}.ready").unlink(missing_ok=True)
