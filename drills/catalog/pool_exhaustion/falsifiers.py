"""The pool-exhaustion drill's falsifiers: for every hypothesis, a harmful stack under which it must fail.

The drill's predictions stay those of its parameters; only the stack in one configuration's slot
changes: a pool of another size than the parameters declare, nginx giving up before the pool, no
superuser reserve, the oversubscribed pools where the recommended ones run, a server that fits the
oversubscribed pools, and an unbounded queue where the bounded one runs.

A falsifier in the recommended slot sends only the steps its hypotheses are judged on: the plateau
steps for the capacity and the queue, the peak (last) step for the claims about the peak and the
overload. The other configurations send one step each already.
"""

from __future__ import annotations

import dataclasses

from ...params import SUPERUSER_RESERVED_CONNECTIONS
from ...pipeline import Falsifier
from ...stack import StackConfig
from .configurations import stack_config
from .params import DRILL_CONNECTIONS, Params


def _pool_of(size: int, stack: StackConfig) -> StackConfig:
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, pool_max_size=size))


def _smaller_pool(params: Params, stack: StackConfig) -> StackConfig:
    """Half the slots the parameters declare: capacity and the queue are not what they predict."""
    return _pool_of(max(stack.service.pool_min_size + 1, params.pool_max_size // 2), stack)


def _larger_pool(params: Params, stack: StackConfig) -> StackConfig:
    """Two more connections per worker than declared, still inside the server's budget."""
    return _pool_of(params.pool_max_size + 2, stack)


def _proxy_gives_up_first(params: Params, stack: StackConfig) -> StackConfig:
    """nginx's read timeout at half the pool's wait: queued requests get its 504 before the pool's 503."""
    read_s = params.pool_timeout_s / 2
    return dataclasses.replace(stack, proxy=dataclasses.replace(stack.proxy, read_timeout_s=read_s,
                                                                send_timeout_s=read_s))


def _no_superuser_reserve(params: Params, stack: StackConfig) -> StackConfig:
    """superuser_reserved_connections = 0: once the ordinary slots are full, nobody gets in."""
    settings = {**stack.postgres.settings, "superuser_reserved_connections": "0"}
    return dataclasses.replace(stack, postgres=dataclasses.replace(stack.postgres, settings=settings))


def _oversubscribed_stack(params: Params, _: StackConfig) -> StackConfig:
    return stack_config(params, "oversubscribed")


def _server_fits_the_pools(params: Params, stack: StackConfig) -> StackConfig:
    """The oversubscribed pools on a server with room for every slot they promise (and the drill's)."""
    fits = (params.workers * params.oversubscribed_pool_max_size + SUPERUSER_RESERVED_CONNECTIONS
            + DRILL_CONNECTIONS + 1)
    return dataclasses.replace(stack, postgres=dataclasses.replace(stack.postgres, max_connections=fits))


def _plateau_steps(params: Params) -> dict[str, object]:
    """Only the steps judged against capacity and the queue model."""
    users = params.plateau_users()
    return {"concurrency_steps": ",".join(map(str, users))} if users else {}


def _peak_step(params: Params) -> dict[str, object]:
    """Only the last step: the peak, where the census, the admin probes and the overload are."""
    return {"concurrency_steps": str(params.steps()[-1])}


def _unbounded_queue(params: Params, stack: StackConfig) -> StackConfig:
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, pool_max_waiting=0))


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    Falsifier("pool-smaller-than-declared", "half the pool slots the parameters declare", "recommended",
              _smaller_pool, ("recommended.capacity-littles-law", "recommended.latency-grows-with-queue"),
              narrow=_plateau_steps),
    Falsifier("pool-larger-than-declared", "two more pool slots per worker than declared", "recommended",
              _larger_pool, ("recommended.server-connections-bounded",), narrow=_peak_step),
    Falsifier("proxy-gives-up-first", "nginx's read timeout at half the pool's wait", "recommended",
              _proxy_gives_up_first, ("recommended.pool-503-not-proxy-504",), narrow=_peak_step),
    Falsifier("no-superuser-reserve", "superuser_reserved_connections = 0, the slots full at the peak",
              "recommended", _no_superuser_reserve, ("recommended.admin-connects-at-peak",), narrow=_peak_step),
    Falsifier("oversubscribed-in-recommended", "the oversubscribed stack (pools above the server's slots)",
              "recommended", _oversubscribed_stack, ("recommended.no-refused-connections",), narrow=_peak_step),
    Falsifier("server-fits-the-pools", "max_connections raised to fit every slot the oversubscribed pools promise",
              "oversubscribed", _server_fits_the_pools,
              ("oversubscribed.refused-connections", "oversubscribed.clients-get-pool-timeouts")),
    Falsifier("oversubscribed-without-reserve", "superuser_reserved_connections = 0 under the oversubscribed pools",
              "oversubscribed", _no_superuser_reserve, ("oversubscribed.admin-still-connects",)),
    Falsifier("unbounded-queue", "max_waiting = 0: an unbounded queue", "bounded",
              _unbounded_queue, ("bounded.fails-fast", "bounded.admitted-p99")),
)
