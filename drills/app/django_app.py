"""The service under test in Django, on Gunicorn's ``sync`` or ``gthread`` workers (WSGI).

Gunicorn imports ``drills.app.django_app:application`` in each worker. The app is one module:
settings made with ``settings.configure()`` from the ``DRILLS_APP_*`` variables (no settings
module, no installed apps), its URLconf, views and one middleware. Same endpoints, headers,
bodies, metrics and named errors as the FastAPI app (the table is in ``outcomes.py``).

The database: Django's own layer and its psycopg pool
-----------------------------------------------------
``ENGINE`` ``django.db.backends.postgresql`` on psycopg 3 with ``OPTIONS["pool"]`` (Django ≥ 5.1,
FACTS-wsgi §4): one ``psycopg_pool.ConnectionPool`` per process, shared by the worker's threads,
with the app's knobs as its arguments (``min_size``, ``max_size``, ``timeout``, ``max_waiting``).
``CONN_MAX_AGE`` must be 0 with a pool (otherwise every DB request fails with
``ImproperlyConfigured``); ``pool_check`` becomes ``CONN_HEALTH_CHECKS`` (a ``"check"`` key in the
pool dict is a TypeError in 5.2). Django wraps the pool's ``PoolTimeout``/``TooManyRequests`` and
psycopg's ``QueryCanceled`` in ``django.db.utils`` errors; :func:`outcomes.classify` unwraps them.
A connection goes back to the pool at the end of each request (``request_finished``).

The request budget: ``wsgi_common`` (Django has no request timeout either).
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

import django
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from . import metrics
from .databases import django_database
from .outcomes import classify
from .settings import AppSettings
from .work import SESSION_SETTINGS, ledger, mark_ready, server_timing, show_query, work_query
from .wsgi_common import BadParameter, Budget, RequestMetrics, delay_param, start_pool_sampler, tag_param

ROUTES = ("/work", "/block", "/healthz", "/readyz", "/metrics", "/config")


app_settings = AppSettings.from_env()
django_settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],  # loopback behind nginx, which passes the client's Host on
    SECRET_KEY=secrets.token_urlsafe(32),  # nothing is signed; Django refuses to run without one
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[f"{__name__}.GiveUpMiddleware"],
    DATABASES={"default": django_database(app_settings)},
    USE_TZ=True,
)
django.setup(set_prefix=False)


# -- endpoints ----------------------------------------------------------------------------------


def work(request: HttpRequest) -> HttpResponse:
    app_s, db_s, tag = delay_param(request.GET, "app_s"), delay_param(request.GET, "db_s"), tag_param(request.GET)
    started, outcome = time.time(), "ok"
    began = time.perf_counter()
    budget = Budget(app_settings.request_budget_s)
    try:
        if app_s > 0:
            budget.sleep(app_s)
        asked = time.perf_counter()
        connection.ensure_connection()  # the pool checkout: Django would do it at the first cursor
        waited_ms = (time.perf_counter() - asked) * 1000
        raw = connection.connection
        with budget.cancelling(raw), connection.cursor() as cursor:
            cursor.execute(work_query(tag).as_string(raw), [db_s])
    except BaseException as exc:  # SystemExit too: Gunicorn's sync timeout ends the handler with it
        outcome = type(exc).__name__
        raise
    finally:
        if tag:
            ledger(app_settings.state_dir, tag, started, outcome)
    handler_ms = (time.perf_counter() - began) * 1000
    response = JsonResponse({"app_s": app_s, "db_s": db_s, "pid": os.getpid(), "elapsed_s": time.time() - started})
    response.headers["Server-Timing"] = server_timing(waited_ms, handler_ms)
    return response


def block(request: HttpRequest) -> HttpResponse:
    seconds = delay_param(request.GET, "s", required=True)
    time.sleep(seconds)  # holds this worker (sync) or this thread (gthread): what Gunicorn's timeout is for
    return JsonResponse({"blocked_s": seconds, "pid": os.getpid()})


def healthz(_: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "alive", "pid": os.getpid()})


def readyz(_: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ready", "pid": os.getpid()})


def prometheus_metrics(_: HttpRequest) -> HttpResponse:
    return HttpResponse(metrics.render_all_workers(), content_type="text/plain; version=0.0.4; charset=utf-8")


def config(_: HttpRequest) -> HttpResponse:
    """The knobs this worker runs with, read back from Django's pool and the database session."""
    session = {}
    with connection.cursor() as cursor:
        for name in SESSION_SETTINGS:
            cursor.execute(show_query(name).as_string(connection.connection))
            row = cursor.fetchone()
            session[name] = row[0] if row else None
    pool = connection.pool
    return JsonResponse({
        "pid": os.getpid(),
        "framework": "django",
        "app": app_settings.public(),
        "pool": pool.get_stats(),
        "pool_config": {"class": "psycopg_pool.ConnectionPool", "min_size": pool.min_size, "max_size": pool.max_size,
                        "timeout_s": pool.timeout, "max_waiting": pool.max_waiting,
                        "conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
                        "conn_health_checks": connection.settings_dict["CONN_HEALTH_CHECKS"],
                        "django": django.get_version()},
        "database_session": session,
    })


urlpatterns = [path(route.lstrip("/"), view) for route, view in zip(
    ROUTES, (work, block, healthz, readyz, prometheus_metrics, config))]


# -- giving up, with the layer named ------------------------------------------------------------


class GiveUpMiddleware:
    """Answers the exceptions of ``outcomes.py``'s table as the FastAPI app does; anything else
    stays Django's own 500."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, _: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, BadParameter):
            return JsonResponse({"detail": str(exc)}, status=422)
        gave_up = classify(exc)
        if gave_up is None:
            return None
        return JsonResponse(gave_up.count().body(), status=gave_up.status, headers=gave_up.headers())


def _open_pool() -> Any:
    """Fill the pool before the worker says it is ready (Django would open it at the first query)."""
    pool = connection.pool
    pool.open(wait=True, timeout=app_settings.pool_open_timeout_s)
    return pool


_pool = _open_pool()
start_pool_sampler(_pool.pop_stats)
mark_ready(app_settings.state_dir)
application = RequestMetrics(WSGIHandler(), ROUTES)
