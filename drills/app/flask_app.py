"""The service under test in Flask, on Gunicorn's ``sync`` or ``gthread`` workers.

Gunicorn imports ``drills.app.flask_app:app`` in each worker (no ``--preload``: every worker makes
its own engine, so no pooled connection crosses a fork, FACTS-wsgi §3). Same endpoints, headers,
bodies, metrics and named errors as the FastAPI app (``main.py``; the table is in ``outcomes.py``).

The pool: SQLAlchemy's ``QueuePool``
------------------------------------
Flask users reach PostgreSQL through SQLAlchemy (directly or via Flask-SQLAlchemy, which changes
nothing for PostgreSQL: FACTS-wsgi §3), so their pool is the engine's ``QueuePool``, not
psycopg_pool: that is the pool whose ``pool_size`` + ``max_overflow`` per process the pool paper
budgets and whose ``pool_timeout`` (30 s by default) is the exhaustion wait. The app's knobs map
onto it with the same meaning as psycopg_pool's:

* ``pool_size = pool_min_size`` (connections kept open), ``max_overflow = pool_max_size −
  pool_min_size`` (opened on demand, closed on return), so at most ``pool_max_size`` per worker;
* ``pool_timeout = pool_timeout_s``; ``pool_pre_ping = pool_check``;
* ``pool_max_waiting`` has no counterpart (QueuePool's queue is unbounded): the harness refuses it.

Exhaustion raises ``sqlalchemy.exc.TimeoutError``, answered as the named 503 ``pool_timeout``.
QueuePool has no ``pop_stats()``: the app counts its own checkouts (:class:`CheckoutStats`) so
``/metrics`` carries the same ``drills_pool_*`` series. The request budget: ``wsgi_common``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import sqlalchemy
from flask import Flask, Response, jsonify, request
from sqlalchemy.pool import QueuePool
from werkzeug.exceptions import InternalServerError

from . import metrics
from .databases import sqlalchemy_engine
from .outcomes import BudgetExceeded, classify
from .settings import AppSettings
from .work import SESSION_SETTINGS, ledger, mark_ready, server_timing, show_query, work_query
from .wsgi_common import BadParameter, Budget, RequestMetrics, delay_param, start_pool_sampler, tag_param

ROUTES = ("/work", "/block", "/healthz", "/readyz", "/metrics", "/config")


class CheckoutStats:
    """psycopg_pool's ``pop_stats()`` for a QueuePool, counted around each checkout."""

    def __init__(self, pool: QueuePool, max_size: int) -> None:
        self.pool, self.max_size = pool, max_size
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(("requests_num", "requests_queued", "requests_wait_ms", "requests_errors",
                                        "connections_errors"), 0)
        self.waiting = 0

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        # "Queued": no idle connection and no room to open one, as the request arrives.
        queued = self.pool.checkedin() == 0 and self.pool.checkedout() >= self.max_size
        asked = time.perf_counter()
        with self._lock:
            self.waiting += 1
        error = ""
        try:
            yield
        except sqlalchemy.exc.TimeoutError:
            error = "requests_errors"
            raise
        except sqlalchemy.exc.DBAPIError:
            error = "connections_errors"
            raise
        finally:
            with self._lock:
                self.waiting -= 1
                self._counters["requests_num"] += 1
                self._counters["requests_queued"] += int(queued)
                self._counters["requests_wait_ms"] += int((time.perf_counter() - asked) * 1000)
                if error:
                    self._counters[error] += 1

    def pop_stats(self) -> dict[str, int]:
        with self._lock:
            counters = dict(self._counters)
            self._counters = dict.fromkeys(self._counters, 0)
            waiting = self.waiting
        return {**counters, **self.get_stats(), "requests_waiting": waiting}

    def get_stats(self) -> dict[str, int]:
        idle = self.pool.checkedin()
        return {"pool_min": self.pool.size(), "pool_max": self.max_size,
                "pool_size": idle + self.pool.checkedout(), "pool_available": idle}


settings = AppSettings.from_env()
engine = sqlalchemy_engine(settings)

def _queue_pool(engine: sqlalchemy.Engine) -> QueuePool:
    assert isinstance(engine.pool, QueuePool), "create_engine's default pool for PostgreSQL"
    return engine.pool


pool = _queue_pool(engine)
stats = CheckoutStats(pool, settings.pool_max_size)
app = Flask("drills")


@contextlib.contextmanager
def checkout() -> Iterator[tuple[sqlalchemy.Connection, float]]:
    """A pooled connection and the ms spent waiting for it."""
    asked = time.perf_counter()
    with stats.timed():
        conn = engine.connect()
    waited_ms = (time.perf_counter() - asked) * 1000
    with conn:
        yield conn, waited_ms


def _raw(conn: sqlalchemy.Connection) -> psycopg.Connection[Any]:
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def _open_pool() -> None:
    """Open ``pool_min_size`` connections before the worker says it is ready (psycopg_pool's
    ``open(wait=True)``; a QueuePool starts empty). Bounded by psycopg's ``connect_timeout`` per
    connection (130 s when unset, FACTS-wsgi §3), not by ``pool_open_timeout_s``."""
    with contextlib.ExitStack() as held:
        for _ in range(settings.pool_min_size):
            held.enter_context(engine.connect())


# -- endpoints ----------------------------------------------------------------------------------


@app.get("/work")
def work() -> Response:
    app_s, db_s, tag = delay_param(request.args, "app_s"), delay_param(request.args, "db_s"), tag_param(request.args)
    started, outcome = time.time(), "ok"
    began = time.perf_counter()
    budget = Budget(settings.request_budget_s)
    try:
        if app_s > 0:
            budget.sleep(app_s)
        with checkout() as (conn, waited_ms):
            raw = _raw(conn)
            with budget.cancelling(raw):
                conn.exec_driver_sql(work_query(tag).as_string(raw), (db_s,))
    except BaseException as exc:  # SystemExit too: Gunicorn's sync timeout ends the handler with it
        outcome = type(exc).__name__
        raise
    finally:
        if tag:
            ledger(settings.state_dir, tag, started, outcome)
    handler_ms = (time.perf_counter() - began) * 1000
    response = jsonify({"app_s": app_s, "db_s": db_s, "pid": os.getpid(), "elapsed_s": time.time() - started})
    response.headers["Server-Timing"] = server_timing(waited_ms, handler_ms)
    return response


@app.get("/block")
def block() -> Response:
    seconds = delay_param(request.args, "s", required=True)
    time.sleep(seconds)  # holds this worker (sync) or this thread (gthread): what Gunicorn's timeout is for
    return jsonify({"blocked_s": seconds, "pid": os.getpid()})


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "alive", "pid": os.getpid()})


@app.get("/readyz")
def readyz() -> Response:
    with checkout() as (conn, _):
        conn.exec_driver_sql("SELECT 1")
    return jsonify({"status": "ready", "pid": os.getpid()})


@app.get("/metrics")
def prometheus_metrics() -> Response:
    return Response(metrics.render_all_workers(), mimetype="text/plain; version=0.0.4; charset=utf-8")


@app.get("/config")
def config() -> Response:
    """The knobs this worker runs with, read back from the engine's pool and the database session."""
    with checkout() as (conn, _):
        session = {name: conn.exec_driver_sql(show_query(name).as_string(_raw(conn))).scalar()
                   for name in SESSION_SETTINGS}
    return jsonify({
        "pid": os.getpid(),
        "framework": "flask",
        "app": settings.public(),
        "pool": stats.get_stats(),
        "pool_config": {"class": f"sqlalchemy.pool.{type(pool).__name__}", "pool_size": pool.size(),
                        "max_overflow": pool._max_overflow, "pool_timeout_s": pool.timeout(),
                        "pool_pre_ping": pool._pre_ping, "sqlalchemy": sqlalchemy.__version__},
        "database_session": session,
    })


# -- giving up, with the layer named ------------------------------------------------------------


@app.errorhandler(BadParameter)
def _bad_parameter(exc: BadParameter) -> tuple[Response, int]:
    return jsonify({"detail": str(exc)}), 422


@app.errorhandler(BudgetExceeded)
@app.errorhandler(psycopg.Error)
@app.errorhandler(sqlalchemy.exc.SQLAlchemyError)
def _gave_up(exc: Exception) -> Response:
    gave_up = classify(exc)
    if gave_up is None:
        raise InternalServerError(original_exception=exc)
    response = jsonify(gave_up.count().body())
    response.status_code = gave_up.status
    response.headers.update(gave_up.headers())
    return response


_open_pool()
start_pool_sampler(stats.pop_stats)
mark_ready(settings.state_dir)
app.wsgi_app = RequestMetrics(app.wsgi_app, ROUTES)  # type: ignore[method-assign]
