"""The rolling-restart drill's falsifiers: for every hypothesis, a harmful stack under which it must fail.

The preStop pair is falsified by each other's stack (``same_as``: the drill's own run measured both by
the same rolling procedure). The drain's four claims each need a stack no configuration runs: the
drain measurement is taken again on it, in the recommended slot.
"""

from __future__ import annotations

from ...pipeline import Falsifier
from ...stack import StackConfig
from .configurations import (
    colliding_grace,
    keepalive_inverted,
    long_graceful_timeout,
    pool_closed_on_sigterm,
    recommended_stack,
    short_graceful_timeout,
    without_prestop,
)
from .params import Params


def _no_prestop(_: Params, stack: StackConfig) -> StackConfig:
    return without_prestop(stack)


def _recommended(params: Params, _: StackConfig) -> StackConfig:
    return recommended_stack(params)


def _short_graceful(_: Params, stack: StackConfig) -> StackConfig:
    return short_graceful_timeout(stack)


def _long_graceful(_: Params, stack: StackConfig) -> StackConfig:
    return long_graceful_timeout(stack)


def _colliding(_: Params, stack: StackConfig) -> StackConfig:
    return colliding_grace(stack)


def _inverted(params: Params, stack: StackConfig) -> StackConfig:
    return keepalive_inverted(params, stack)


def _pool_on_sigterm(_: Params, stack: StackConfig) -> StackConfig:
    return pool_closed_on_sigterm(stack)


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    Falsifier("no-prestop", "no preStop sleep: SIGTERM while the proxy still sends to the replica", "recommended",
              _no_prestop, ("recommended-rolling.no-errors",), same_as=("recommended-rolling", "no-prestop")),
    Falsifier("with-prestop", "the recommended stack: a preStop sleep longer than the endpoint lag", "no-prestop",
              _recommended, ("no-prestop.upstream-failures",), same_as=("no-prestop", "recommended-rolling")),
    Falsifier("short-graceful-timeout", "Gunicorn's graceful_timeout 5 s, shorter than the in-flight requests need",
              "recommended", _short_graceful, ("recommended-drain.in-flight-complete",)),
    Falsifier("pool-closed-on-sigterm", "the app closes its pool in a SIGTERM handler", "recommended",
              _pool_on_sigterm, ("recommended-drain.pool-closes-after-last-request",)),
    Falsifier("long-graceful-timeout", "graceful_timeout 60 s and a grace period of 80 s: nothing is cut",
              "recommended", _long_graceful, ("recommended-drain.beyond-graceful-cut",)),
    Falsifier("keepalive-inverted", "Gunicorn's keep-alive (its default 2 s) below nginx's upstream keepalive_timeout",
              "recommended", _inverted, ("recommended-keepalive.no-stale-errors",),
              same_as=("recommended-keepalive", "keepalive-inverted")),
    Falsifier("keepalive-ordered", "the recommended stack: nginx's upstream keepalive_timeout below Gunicorn's",
              "keepalive-inverted", _recommended, ("keepalive-inverted.stale-posts-fail",),
              same_as=("keepalive-inverted", "recommended-keepalive")),
    Falsifier("colliding-grace", "Gunicorn's and Kubernetes' defaults, 30 s each, with the preStop 10 s",
              "recommended", _colliding, ("recommended-drain.exits-within-grace",)),
)
