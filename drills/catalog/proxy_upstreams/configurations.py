"""The stacks the proxy-upstreams drill starts: the recommended nginx and Gunicorn in front of
``replicas`` services, and three stacks that each change one setting to an anti-pattern."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...stack import PostgresConfig, ServiceConfig, StackConfig
from ..recommended_stack import recommended_proxy
from .params import Params

#: nginx's own default ``proxy_next_upstream``: a timed-out request goes to the next server too.
NGINX_DEFAULT_NEXT_UPSTREAM = "error timeout"
#: nginx's default ``max_fails``: one failure marks a server down for ``fail_timeout``.
NGINX_DEFAULT_MAX_FAILS = 1


def recommended_stack(params: Params) -> StackConfig:
    """The recommended settings (drills/recommended.py), durations scaled as params.py says."""
    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections),
        service=ServiceConfig(
            workers=params.workers,
            keepalive_s=params.gunicorn_keepalive_s,
            pool_min_size=1,
            pool_max_size=params.pool_max_size,
            pool_timeout_s=2.0,
            request_budget_s=0.0,  # the slow GET must run its course: only nginx's timers are measured
        ),
        proxy=dataclasses.replace(
            recommended_proxy(read_timeout_s=params.upstream_read_timeout_s),
            next_upstream_tries=params.next_upstream_tries,
            max_fails=params.max_fails,
            fail_timeout_s=params.fail_timeout_s,
            upstream_keepalive_timeout_s=params.upstream_keepalive_timeout_s,
        ),
        replicas=params.replicas,
    )


def keepalive_inverted(params: Params, stack: StackConfig) -> StackConfig:
    """Gunicorn's keep-alive below nginx's upstream keepalive_timeout (Gunicorn's default 2 s)."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service,
                                                                  keepalive_s=params.inverted_gunicorn_keepalive_s))


def retry_on_timeout(stack: StackConfig) -> StackConfig:
    """``proxy_next_upstream error timeout`` (nginx's default), with the recommended tries."""
    return dataclasses.replace(stack, proxy=dataclasses.replace(stack.proxy, next_upstream=NGINX_DEFAULT_NEXT_UPSTREAM))


def eject_on_one_failure(stack: StackConfig) -> StackConfig:
    """``max_fails=1`` (nginx's default), with the recommended fail_timeout (scaled)."""
    return dataclasses.replace(stack, proxy=dataclasses.replace(stack.proxy, max_fails=NGINX_DEFAULT_MAX_FAILS))


def stack_config(params: Params, configuration: str) -> StackConfig:
    """The recommended stack, or it with the configuration's one anti-pattern."""
    stack = recommended_stack(params)
    if configuration == "keepalive-inverted":
        return keepalive_inverted(params, stack)
    if configuration == "retry-timeout":
        return retry_on_timeout(stack)
    if configuration == "max-fails-1":
        return eject_on_one_failure(stack)
    return stack


def describe(params: Params, configuration: str) -> dict[str, Any]:
    """What the traffic is paced against, beside the settings read back from the components."""
    return {"drill": {"keepalive_gap_s": params.inverted_gunicorn_keepalive_s,
                      "client_timeout_s": params.client_timeout_s, "settle_s": params.settle_s}}
