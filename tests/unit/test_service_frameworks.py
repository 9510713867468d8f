"""The service's framework selection (ServiceConfig.framework, worker_class, threads), checked
before any process starts, and the pieces of the Flask and Django apps that need no server: the
pool knobs as SQLAlchemy and Django settings, the named answers through each framework's exception
wrappers, query-parameter checks and the request budget's clock."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import sqlalchemy.exc
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout, TooManyRequests

from drills.app.databases import django_database, sqlalchemy_engine
from drills.app.outcomes import BudgetExceeded, classify
from drills.app.settings import AppSettings
from drills.app.wsgi_common import BadParameter, Budget, delay_param, tag_param
from drills.errors import ParameterError
from drills.stack import ServiceConfig, StackConfig
from drills.stack.service import WORKER_CLASSES

# -- ServiceConfig ------------------------------------------------------------------------------


@pytest.mark.parametrize(("framework", "worker_class", "target", "gunicorn_class"), [
    ("fastapi", "uvicorn", "drills.app.main:app", "uvicorn_worker.UvicornWorker"),
    ("flask", "sync", "drills.app.flask_app:app", "sync"),
    ("django", "sync", "drills.app.django_app:application", "sync"),
])
def test_each_framework_defaults_to_its_users_worker_class(framework, worker_class, target, gunicorn_class) -> None:
    config = ServiceConfig(framework=framework)
    assert (config.worker_class, config.threads) == (worker_class, 1)
    assert config.app_target == target and config.gunicorn_worker_class == gunicorn_class


def test_the_default_service_is_the_fastapi_one_as_before() -> None:
    assert ServiceConfig() == ServiceConfig(framework="fastapi", worker_class="uvicorn", threads=1)


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_gthread_takes_threads(framework) -> None:
    config = ServiceConfig(framework=framework, worker_class="gthread", threads=4)
    assert (config.gunicorn_worker_class, config.threads) == ("gthread", 4)


@pytest.mark.parametrize(("kwargs", "name", "allowed"), [
    ({"framework": "pyramid"}, "framework", "fastapi, flask, django"),
    ({"framework": "FastAPI"}, "framework", "fastapi, flask, django"),
    ({"framework": "flask", "worker_class": "uvicorn"}, "worker_class", "sync, gthread"),
    ({"framework": "django", "worker_class": "gevent"}, "worker_class", "sync, gthread"),
    ({"framework": "fastapi", "worker_class": "sync"}, "worker_class", "uvicorn"),
    ({"worker_class": "gthread"}, "worker_class", "uvicorn"),
    ({"framework": "flask", "threads": 4}, "threads", "needs gthread"),
    ({"threads": 2}, "threads", "needs gthread"),
    ({"framework": "flask", "worker_class": "gthread", "threads": 0}, "threads", "1–64"),
    ({"framework": "flask", "worker_class": "gthread", "threads": 65}, "threads", "1–64"),
    ({"framework": "flask", "worker_class": "gthread", "threads": True}, "threads", "1–64"),
    ({"framework": "flask", "pool_max_waiting": 2}, "pool_max_waiting", "no bound"),
    ({"framework": "flask", "pool_min_size": 0}, "pool_min_size", "at least 1"),
    ({"framework": "flask", "pool_min_size": 4, "pool_max_size": 2}, "pool_max_size", "pool_min_size=4"),
])
def test_an_impossible_selection_is_refused_naming_the_parameter(kwargs, name, allowed) -> None:
    with pytest.raises(ParameterError) as caught:
        ServiceConfig(**kwargs)
    assert caught.value.name == name
    assert allowed in str(caught.value) and name in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_selection_fails_before_a_stack_config_exists() -> None:
    with pytest.raises(ParameterError, match="worker_class"):
        StackConfig(service=ServiceConfig(framework="django", worker_class="uvicorn"))


def test_django_keeps_psycopg_pools_queue_bound() -> None:
    assert ServiceConfig(framework="django", pool_max_waiting=2).pool_max_waiting == 2


def test_every_framework_has_a_worker_class_and_an_app() -> None:
    from drills.stack.service import APP_TARGETS, GUNICORN_WORKER_CLASSES

    assert set(WORKER_CLASSES) == set(APP_TARGETS)
    assert {c for classes in WORKER_CLASSES.values() for c in classes} == set(GUNICORN_WORKER_CLASSES)


# -- the pools as Flask and Django users configure them -------------------------------------------


def _settings(**kwargs) -> AppSettings:
    return AppSettings(conninfo="host=127.0.0.1 port=5999 dbname=drills user=app password=s3cret sslmode=disable",
                       state_dir=Path("/nonexistent"), **kwargs)


def test_sqlalchemys_queue_pool_caps_at_pool_max_size() -> None:
    engine = sqlalchemy_engine(_settings(pool_min_size=2, pool_max_size=5, pool_timeout_s=0.25, pool_check=False))
    pool = engine.pool
    assert type(pool).__name__ == "QueuePool"
    assert (pool.size(), pool._max_overflow, pool.timeout(), pool._pre_ping) == (2, 3, 0.25, False)
    engine.dispose()


def test_djangos_database_uses_its_pool_with_the_apps_knobs() -> None:
    db = django_database(_settings(pool_min_size=3, pool_max_size=3, pool_timeout_s=0.5, pool_max_waiting=7))
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "drills", "app", "s3cret", "127.0.0.1", "5999")
    assert db["CONN_MAX_AGE"] == 0 and db["CONN_HEALTH_CHECKS"] is True
    pool = db["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"], pool["timeout"], pool["max_waiting"]) == (3, 3, 0.5, 7)
    assert "check" not in pool  # a TypeError in Django 5.2
    assert db["OPTIONS"]["sslmode"] == "disable"


# -- the named answers through each framework's wrappers --------------------------------------------


def _wrapped_by_django(inner: Exception) -> Exception:
    from django.db.utils import OperationalError

    try:
        try:
            raise inner
        except Exception as exc:
            raise OperationalError(*exc.args) from exc
    except OperationalError as outer:
        return outer


def _wrapped_by_sqlalchemy(inner: Exception) -> Exception:
    return sqlalchemy.exc.OperationalError("SELECT pg_sleep(%s)", (1.0,), inner)


@pytest.mark.parametrize("wrap", [lambda e: e, _wrapped_by_django, _wrapped_by_sqlalchemy],
                         ids=["psycopg", "django", "sqlalchemy"])
@pytest.mark.parametrize(("inner", "status", "layer", "error"), [
    (pg_errors.QueryCanceled("canceling statement due to statement timeout"), 504, "database", "query_cancelled"),
    (PoolTimeout("couldn't get a connection after 0.50 sec"), 503, "pool", "pool_timeout"),
    (TooManyRequests("the pool has already 2 requests waiting"), 503, "pool", "pool_queue_full"),
    (psycopg.OperationalError("connection refused"), 503, "database", "database_unavailable"),
])
def test_each_layer_keeps_its_name_through_the_frameworks_wrappers(wrap, inner, status, layer, error) -> None:
    gave_up = classify(wrap(inner))
    assert gave_up is not None
    assert (gave_up.status, gave_up.layer, gave_up.error) == (status, layer, error)
    assert gave_up.headers() == {"X-Timeout-Layer": layer, "X-Drills-Error": error}


def test_sqlalchemys_pool_timeout_is_the_named_503() -> None:
    exc = sqlalchemy.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50")
    gave_up = classify(exc)
    assert gave_up is not None and (gave_up.status, gave_up.error) == (503, "pool_timeout")


def test_the_budget_wins_over_the_cancel_it_caused() -> None:
    try:
        try:
            raise pg_errors.QueryCanceled("canceling statement due to user request")
        except Exception as exc:
            raise BudgetExceeded(0.5) from exc
    except BudgetExceeded as budget:
        gave_up = classify(budget)
    assert gave_up is not None and (gave_up.status, gave_up.layer, gave_up.body()["budget_s"]) == (504, "app", 0.5)


def test_a_bug_is_not_given_a_layer() -> None:
    assert classify(KeyError("x")) is None


# -- query parameters and the budget ---------------------------------------------------------------


def test_delays_are_checked_as_fastapi_checks_them() -> None:
    assert delay_param({"db_s": "0.25"}, "db_s") == 0.25 and delay_param({}, "app_s") == 0.0
    for bad in ("-1", "601", "nan", "soon"):
        with pytest.raises(BadParameter):
            delay_param({"s": bad}, "s")
    with pytest.raises(BadParameter, match="required"):
        delay_param({}, "s", required=True)
    assert tag_param({"tag": "ab-1_C"}) == "ab-1_C"
    with pytest.raises(BadParameter):
        tag_param({"tag": "x*/ DROP"})


def test_the_budget_cuts_the_apps_own_delay_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded):
        Budget(0.2).sleep(5.0)
    assert 0.2 <= time.monotonic() - started < 0.4
    started = time.monotonic()
    Budget(0).sleep(0.05)  # 0 disables it
    Budget(1.0).sleep(0.05)
    assert time.monotonic() - started < 0.3


def test_gunicorn_json_records_threads_and_the_class_gunicorn_will_run(tmp_path, monkeypatch) -> None:
    import json

    from gunicorn.config import Config

    from drills.app import gunicorn_hooks

    monkeypatch.setenv("DRILLS_APP_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    cfg = Config()
    cfg.set("worker_class", "sync")
    cfg.set("threads", 3)
    gunicorn_hooks.on_starting(SimpleNamespace(cfg=cfg))
    knobs = json.loads((tmp_path / "gunicorn.json").read_text())
    assert (knobs["worker_class"], knobs["threads"], knobs["worker_connections"]) == ("gthread", 3, 1000)


def test_the_wsgi_middleware_counts_the_status_and_closes_the_body() -> None:
    """Django hands a request's connection back to its pool from the body's close()."""
    from drills.app import metrics
    from drills.app.wsgi_common import RequestMetrics

    closed = []

    class Body(list):
        def close(self) -> None:
            closed.append(True)

    def app(environ, start_response):
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return Body([b'{"error": ', b'"pool_timeout"}'])

    seen = []
    wrapped = RequestMetrics(app, ["/work"])
    before = metrics.REQUESTS.labels(route="/work", status="503")._value.get()
    body = wrapped({"PATH_INFO": "/work"}, lambda status, headers: seen.append(status))
    assert body == [b'{"error": "pool_timeout"}'] and seen == ["503 Service Unavailable"] and closed == [True]
    assert metrics.REQUESTS.labels(route="/work", status="503")._value.get() == before + 1
