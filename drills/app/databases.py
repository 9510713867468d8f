"""The app's pool knobs (``AppSettings``) as a Flask user's SQLAlchemy engine and a Django user's
``DATABASES`` entry: pure functions, so the mapping is tested without starting a worker.

Why these pools: ``flask_app.py`` and ``django_app.py`` say (FACTS-wsgi §3, §4).
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import sqlalchemy
from psycopg.conninfo import conninfo_to_dict

from .settings import AppSettings


def sqlalchemy_engine(settings: AppSettings) -> sqlalchemy.Engine:
    """``create_engine`` with its default QueuePool: ``pool_size = pool_min_size`` (kept open),
    ``max_overflow = pool_max_size − pool_min_size`` (opened on demand, closed on return), so at
    most ``pool_max_size`` connections per worker, as psycopg_pool's ``max_size``."""
    return sqlalchemy.create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(settings.conninfo),  # a libpq conninfo, not a URL
        pool_size=settings.pool_min_size,
        max_overflow=settings.pool_max_size - settings.pool_min_size,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=settings.pool_check,
        # As the FastAPI app's pool (autocommit=True): no transaction left open between statements.
        isolation_level="AUTOCOMMIT",
    )


def django_database(settings: AppSettings) -> dict[str, Any]:
    """``DATABASES["default"]`` with Django's psycopg pool (5.1+). ``CONN_MAX_AGE`` must be 0 with
    a pool (any other value makes every DB request fail); ``pool_check`` is ``CONN_HEALTH_CHECKS``,
    because a ``"check"`` key in the pool dict is a TypeError in Django 5.2 (FACTS-wsgi §4)."""
    params = {k: str(v) for k, v in conninfo_to_dict(settings.conninfo).items()}
    named = {"NAME": params.pop("dbname", ""), "USER": params.pop("user", ""),
             "PASSWORD": params.pop("password", ""), "HOST": params.pop("host", ""), "PORT": params.pop("port", "")}
    return {
        "ENGINE": "django.db.backends.postgresql",
        **named,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": settings.pool_check,
        "OPTIONS": {**params, "pool": {
            "min_size": settings.pool_min_size, "max_size": settings.pool_max_size,
            "timeout": settings.pool_timeout_s, "max_waiting": settings.pool_max_waiting,
            "name": f"pool-{os.getpid()}",
        }},
    }
