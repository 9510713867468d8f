"""The stacks the load-capacity drill starts: the same service, with or without a bounded pool queue."""

from __future__ import annotations

from ...stack import PostgresConfig, ProxyConfig, ServiceConfig, StackConfig
from .params import Params


def stack_config(params: Params, configuration: str) -> StackConfig:
    """PostgreSQL, the service (a full pool; ``max_waiting`` bounds its queue under ``shedding``) and
    nginx (no retries, keepalive to the upstream)."""
    shedding = configuration == "shedding"
    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections),
        service=ServiceConfig(workers=params.workers_per_replica, pool_min_size=params.pool_max_size,
                              pool_max_size=params.pool_max_size, pool_timeout_s=params.pool_timeout_s,
                              pool_max_waiting=params.shed_max_waiting if shedding else 0),
        proxy=ProxyConfig(read_timeout_s=params.proxy_read_timeout_s, send_timeout_s=params.proxy_read_timeout_s,
                          next_upstream="off", max_fails=0, upstream_keepalive=64),
        replicas=params.replicas,
    )
