"""The stacks the pool-exhaustion drill starts, and the load each configuration sends."""

from __future__ import annotations

from ...stack import PostgresConfig, ServiceConfig, StackConfig
from ..recommended_stack import LOAD_DRILL_TIME_SCALE, recommended_gunicorn_keepalive_s, recommended_proxy
from .params import Params


def stack_config(params: Params, configuration: str) -> StackConfig:
    """PostgreSQL, the service and nginx: the recommended pool, the oversubscribed one (more slots
    than the server allows, on purpose), or the recommended one with a bounded queue."""
    max_connections, pool_min, pool_max, max_waiting = (
        (params.oversubscribed_max_connections, 1, params.oversubscribed_pool_max_size, 0)
        if configuration == "oversubscribed" else
        (params.max_connections, params.pool_min_size, params.pool_max_size,
         params.max_waiting if configuration == "bounded" else 0))
    return StackConfig(
        postgres=PostgresConfig(max_connections=max_connections),
        service=ServiceConfig(workers=params.workers_per_replica,
                              keepalive_s=recommended_gunicorn_keepalive_s(LOAD_DRILL_TIME_SCALE),
                              pool_min_size=pool_min, pool_max_size=pool_max,
                              pool_timeout_s=params.pool_timeout_s, pool_max_waiting=max_waiting),
        proxy=recommended_proxy(read_timeout_s=params.proxy_read_timeout_s, scale=LOAD_DRILL_TIME_SCALE),
        replicas=params.replicas,
    )


def users_for(params: Params, configuration: str) -> list[int]:
    """The closed-loop users of each step the configuration sends."""
    return {"recommended": params.steps(), "oversubscribed": [params.oversubscribed_users],
            "bounded": [params.bounded_users]}[configuration]
