"""The stacks the Flask and Django pool drill starts, and the load each configuration sends."""

from __future__ import annotations

from ....stack import PostgresConfig, ServiceConfig, StackConfig
from ...recommended_stack import LOAD_DRILL_TIME_SCALE, recommended_gunicorn_keepalive_s, recommended_proxy
from .params import FlaskPoolParams


def stack_config(params: FlaskPoolParams, configuration: str) -> StackConfig:
    """PostgreSQL, the Flask or Django service on ``gthread`` workers with more threads than pool
    connections, and nginx as recommended; one Gunicorn worker per replica, as the FastAPI drill."""
    threads = params.exhaust_threads if configuration == "gthread" else params.threads
    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections),
        service=ServiceConfig(framework=params.framework, worker_class="gthread", threads=threads,
                              workers=params.workers_per_replica,
                              keepalive_s=recommended_gunicorn_keepalive_s(LOAD_DRILL_TIME_SCALE),
                              pool_min_size=params.pool_min_size, pool_max_size=params.pool_max_size,
                              pool_timeout_s=params.pool_timeout_s),
        proxy=recommended_proxy(read_timeout_s=params.proxy_read_timeout_s, scale=LOAD_DRILL_TIME_SCALE),
        replicas=params.replicas,
    )


def users_for(params: FlaskPoolParams, configuration: str) -> list[int]:
    """The closed-loop users of each step the configuration sends."""
    return params.steps() if configuration == "recommended" else [params.exhaust_users]


def hold_for(params: FlaskPoolParams, configuration: str) -> float:
    """How long each request holds its connection (``/work?db_s=``)."""
    return params.hold_s if configuration == "recommended" else params.exhaust_hold_s


def step_for(params: FlaskPoolParams, configuration: str) -> float:
    return params.step_s if configuration == "recommended" else params.exhaust_s
