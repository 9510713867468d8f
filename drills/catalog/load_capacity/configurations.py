"""The stacks the load-capacity drill starts: the same service, with or without a bounded pool queue."""

from __future__ import annotations

from ...stack import PostgresConfig, ServiceConfig, StackConfig
from ..recommended_stack import LOAD_DRILL_TIME_SCALE, recommended_gunicorn_keepalive_s, recommended_proxy
from .params import Params


def stack_config(params: Params, configuration: str) -> StackConfig:
    """PostgreSQL, the service (a full pool; ``max_waiting`` bounds its queue under ``shedding``) and
    nginx as the papers recommend it."""
    shedding = configuration == "shedding"
    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections),
        service=ServiceConfig(workers=params.workers_per_replica,
                              keepalive_s=recommended_gunicorn_keepalive_s(LOAD_DRILL_TIME_SCALE),
                              pool_min_size=params.pool_max_size,
                              pool_max_size=params.pool_max_size, pool_timeout_s=params.pool_timeout_s,
                              pool_max_waiting=params.shed_max_waiting if shedding else 0),
        proxy=recommended_proxy(read_timeout_s=params.proxy_read_timeout_s, scale=LOAD_DRILL_TIME_SCALE),
        replicas=params.replicas,
    )
