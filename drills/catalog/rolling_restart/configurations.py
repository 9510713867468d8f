"""The stacks the rolling-restart drill starts, and the harmful ones its falsifiers put in their place.

Each stack carries its orchestrator (``StackConfig.rollout``: preStop, grace period, endpoint lag,
readiness period), so the Kubernetes values are swapped like any other setting."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...stack import PostgresConfig, Rollout, ServiceConfig, StackConfig
from ...stack.pg_log import DISCONNECTION_SETTINGS
from ..recommended_stack import recommended_proxy, scaled_s, scaled_whole_s
from .params import Params

#: Gunicorn's and Kubernetes' own defaults, both 30 s (FACTS.md §1, §8), with the recommended preStop.
GUNICORN_DEFAULT_GRACEFUL_TIMEOUT_S = 30
KUBERNETES_DEFAULT_GRACE_S = 30.0
#: A graceful_timeout below the request budget (8 s), as set "to make deploys faster".
SHORT_GRACEFUL_TIMEOUT_S = 5
#: Long enough for every request the drain sends ("beyond" included), and a grace period to match.
LONG_GRACEFUL_TIMEOUT_S = 60
LONG_GRACE_S = 80.0


def recommended_stack(params: Params) -> StackConfig:
    """The recommended settings (drills/recommended.py), durations scaled as params.py says."""
    return StackConfig(
        postgres=PostgresConfig(max_connections=params.max_connections, settings=DISCONNECTION_SETTINGS),
        service=ServiceConfig(
            workers=params.workers,
            keepalive_s=params.gunicorn_keepalive_s,
            graceful_timeout_s=params.graceful_timeout_s,
            pool_min_size=params.pool_max_size,
            pool_max_size=params.pool_max_size,
            pool_timeout_s=2.0,
            request_budget_s=0.0,  # the drain's requests must run their course: only the shutdown cuts them
        ),
        proxy=dataclasses.replace(recommended_proxy(read_timeout_s=params.read_timeout_s),
                                  upstream_keepalive_timeout_s=params.upstream_keepalive_timeout_s),
        replicas=params.replicas,
        rollout=Rollout(pre_stop_s=params.pre_stop_s, termination_grace_s=params.termination_grace_s,
                        endpoint_lag_s=params.endpoint_lag_s, readiness_period_s=params.readiness_period_s),
    )


def _rollout(stack: StackConfig, **changes: float) -> StackConfig:
    assert stack.rollout is not None
    return dataclasses.replace(stack, rollout=dataclasses.replace(stack.rollout, **changes))


def _service(stack: StackConfig, **changes: Any) -> StackConfig:
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, **changes))


def without_prestop(stack: StackConfig) -> StackConfig:
    """No preStop sleep: SIGTERM as the pod is deleted, while the proxy still sends to it."""
    return _rollout(stack, pre_stop_s=0.0)


def short_graceful_timeout(stack: StackConfig) -> StackConfig:
    """Gunicorn's graceful_timeout 5 s (→ 1 s): shorter than what an in-flight request still needs."""
    return _service(stack, graceful_timeout_s=scaled_whole_s(SHORT_GRACEFUL_TIMEOUT_S))


def long_graceful_timeout(stack: StackConfig) -> StackConfig:
    """graceful_timeout 60 s (→ 12 s) and a grace period of 80 s (→ 16 s): nothing the drain sends is cut."""
    return _rollout(_service(stack, graceful_timeout_s=scaled_whole_s(LONG_GRACEFUL_TIMEOUT_S)),
                    termination_grace_s=scaled_s(LONG_GRACE_S))


def colliding_grace(stack: StackConfig) -> StackConfig:
    """Each default — Gunicorn's graceful_timeout 30 s, Kubernetes' grace period 30 s — with the
    recommended preStop 10 s: the kubelet's SIGKILL comes before Gunicorn's own timer."""
    return _rollout(_service(stack, graceful_timeout_s=scaled_whole_s(GUNICORN_DEFAULT_GRACEFUL_TIMEOUT_S)),
                    termination_grace_s=scaled_s(KUBERNETES_DEFAULT_GRACE_S))


def pool_closed_on_sigterm(stack: StackConfig) -> StackConfig:
    """The app closes its pool in a SIGTERM handler instead of its lifespan shutdown."""
    return _service(stack, pool_close="sigterm")


def keepalive_inverted(params: Params, stack: StackConfig) -> StackConfig:
    """Gunicorn's keep-alive below nginx's upstream keepalive_timeout (its default 2 s, scaled)."""
    return _service(stack, keepalive_s=params.inverted_gunicorn_keepalive_s)


def stack_config(params: Params, configuration: str) -> StackConfig:
    """The recommended stack, or it without the preStop sleep, or with the keep-alive inverted."""
    stack = recommended_stack(params)
    if configuration == "no-prestop":
        return without_prestop(stack)
    if configuration == "keepalive-inverted":
        return keepalive_inverted(params, stack)
    return stack


def describe(params: Params, configuration: str) -> dict[str, Any]:
    """The orchestrator's values (no component reports them) and the load, beside the read-back."""
    rollout = stack_config(params, configuration).rollout
    assert rollout is not None
    return {"rollout": dataclasses.asdict(rollout),
            "drill": {"load_rps": params.load_rps, "load_max_in_flight": params.load_max_in_flight,
                      "client_timeout_s": params.client_timeout_s}}
