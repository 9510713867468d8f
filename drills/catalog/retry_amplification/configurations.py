"""The stacks the retry-amplification drill starts. Each layer's retry policy is part of the stack:
nginx's ``proxy_next_upstream``, the app's transaction retry and idempotency keys, and the drill's
own client (``StackConfig.client_retry``), so a falsifier swaps any of them like a setting.

* ``recommended`` — retries-backoff.md: nginx passes on only what never reached a replica
  (``error``, tries 2), the app re-runs a whole transaction after 40001/40P01 only, keys make a
  retried POST run once, and the client retries connect errors and 429/502/503 of idempotent or
  keyed requests, three attempts in a 10 % budget, with full jitter;
* ``naive`` — every layer retries every failure three times: the client after a fixed wait,
  nginx on errors, timeouts and 502/503/504 (``max_fails=0``, so ejection does not cut the product
  short), the app on any OperationalError (57014 included); keys ignored;
* ``budget`` / ``no-budget`` — the storm: one replica whose database slows for a while, a caller
  retrying its timeouts with or without the budget. Nothing in the replica cuts a queued request
  (long pool wait, no request budget, a long read timeout): work for callers that left goes on.
"""

from __future__ import annotations

import dataclasses

from ...app.settings import RetryOn
from ...retry_policy import RetryPolicy
from ...stack import PostgresConfig, ServiceConfig, StackConfig
from ..recommended_stack import recommended_gunicorn_keepalive_s, recommended_proxy
from .params import Params

#: nginx passes a request on after a refused connect or a reset, and after a timeout or a 502/503/504:
#: the anti-pattern (a timed-out or failed request runs again on the next replica).
NAIVE_NEXT_UPSTREAM = "error timeout http_502 http_503 http_504"
#: nginx passes nothing on: a request whose replica died is the client's 502.
NO_NEXT_UPSTREAM = "off"
#: nginx also resends a POST it already sent (``non_idempotent``).
NON_IDEMPOTENT_NEXT_UPSTREAM = "error non_idempotent"
#: A storm's caller retries what its users see fail: timeouts and 5xx.
STORM_STATUSES = frozenset({500, 502, 503, 504})


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _postgres(params: Params, *, statement_timeout_s: float | None) -> PostgresConfig:
    settings = {"lock_timeout": _ms(params.lock_timeout_s), "deadlock_timeout": _ms(params.deadlock_timeout_s)}
    if statement_timeout_s is not None:
        settings["statement_timeout"] = _ms(statement_timeout_s)
    return PostgresConfig(max_connections=params.max_connections, settings=settings)


def recommended_caller(params: Params) -> RetryPolicy:
    """retries-backoff.md's HTTP caller, its backoff scaled (1 s → 0.2 s, cap 20 s → 4 s)."""
    return RetryPolicy(attempts=params.attempts, backoff_base_s=params.client_backoff_base_s,
                       backoff_cap_s=params.client_backoff_cap_s, jitter="full",
                       budget_ratio=params.budget_ratio, budget_burst=params.budget_burst)


def recommended_stack(params: Params) -> StackConfig:
    """The recommended policy at every layer (drills/recommended.py), durations scaled."""
    return StackConfig(
        postgres=_postgres(params, statement_timeout_s=params.statement_timeout_s),
        service=ServiceConfig(
            workers=params.workers, keepalive_s=recommended_gunicorn_keepalive_s(),
            pool_min_size=1, pool_max_size=params.pool_max_size, pool_timeout_s=2.0,
            request_budget_s=0.0,  # only the statement timeout ends a slowed statement: the fault is exact
            retry_on="serialization", retry_attempts=params.attempts,
            retry_budget_ratio=params.budget_ratio, retry_budget_burst=params.budget_burst,
            retry_backoff_base_s=params.transaction_backoff_base_s,
            retry_backoff_cap_s=params.transaction_backoff_cap_s, retry_jitter="full", idempotency=True,
        ),
        proxy=dataclasses.replace(recommended_proxy(read_timeout_s=params.amplify_read_timeout_s),
                                  next_upstream_tries=params.next_upstream_tries, dead_first_location=True),
        replicas=params.replicas,
        client_retry=recommended_caller(params),
    )


def naive_stack(params: Params) -> StackConfig:
    """Every layer retries every failure: the product of their attempts reaches the database."""
    stack = recommended_stack(params)
    return dataclasses.replace(
        stack,
        service=dataclasses.replace(stack.service, retry_on="operational", retry_attempts=params.naive_app_attempts,
                                    retry_budget_ratio=0.0, retry_backoff_base_s=0.0, retry_backoff_cap_s=0.0,
                                    retry_jitter="none", idempotency=False),
        proxy=dataclasses.replace(stack.proxy, next_upstream=NAIVE_NEXT_UPSTREAM,
                                  next_upstream_tries=params.naive_nginx_tries, max_fails=0),
        client_retry=RetryPolicy.naive_caller(params.naive_client_attempts, params.naive_client_backoff_s),
    )


def storm_caller(params: Params, *, budget: bool) -> RetryPolicy:
    """The storm's caller: retries its timeouts and 5xx, fully jittered, within the budget or not."""
    return RetryPolicy(attempts=params.attempts, backoff_base_s=params.storm_backoff_base_s,
                       backoff_cap_s=params.storm_backoff_cap_s, jitter="full",
                       budget_ratio=params.budget_ratio if budget else 0.0,
                       budget_burst=params.budget_burst if budget else 0,
                       statuses=STORM_STATUSES, methods="idempotent", retry_timeouts=True)


def storm_stack(params: Params, *, budget: bool) -> StackConfig:
    """One replica, one worker, its pool the only queue: nothing gives up on a queued request."""
    return StackConfig(
        postgres=_postgres(params, statement_timeout_s=None),
        service=ServiceConfig(workers=1, keepalive_s=recommended_gunicorn_keepalive_s(),
                              pool_min_size=params.pool_max_size, pool_max_size=params.pool_max_size,
                              pool_timeout_s=10.0, pool_max_waiting=0, request_budget_s=0.0),
        proxy=recommended_proxy(read_timeout_s=10.0),
        replicas=1,
        client_retry=storm_caller(params, budget=budget),
    )


def with_app_retry(stack: StackConfig, retry_on: RetryOn) -> StackConfig:
    """The stack with the app retrying ``retry_on`` ("operational": 57014 too; "statement": only the
    failed statement, inside the aborted transaction)."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, retry_on=retry_on))


def with_next_upstream(stack: StackConfig, next_upstream: str) -> StackConfig:
    return dataclasses.replace(stack, proxy=dataclasses.replace(stack.proxy, next_upstream=next_upstream))


def stack_config(params: Params, configuration: str) -> StackConfig:
    if configuration == "naive":
        return naive_stack(params)
    if configuration in ("budget", "no-budget"):
        return storm_stack(params, budget=configuration == "budget")
    return recommended_stack(params)
