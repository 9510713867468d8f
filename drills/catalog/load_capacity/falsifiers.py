"""The load-capacity drill's falsifiers: for every hypothesis, a harmful stack under which it must fail.

The drill's predictions stay those of its parameters (capacity = slots ÷ hold, the SLO, the excess
over capacity); only the stack in one configuration's slot changes. The recommended slot runs the
step load *and* the unshed overload on one stack, so a falsifier there touches both.

* a pool a quarter or twice the size the parameters predict from: the knee leaves its band below
  capacity (and, with the larger pool, throughput keeps rising past the predicted capacity). Not
  half: half the pool puts its own capacity on the band's lower edge (50 %), where the knee is
  again decided by a step at ρ = 1;
* shedding switched on in the recommended slot: past capacity latency no longer rises, and the
  "no-shedding" overload keeps its SLO;
* nginx giving up before the pool does, with no passive ejection (as ingress-nginx balances: its
  Lua balancer ignores ``max_fails``): the client gets 504s while the service goes on with the
  work, so the service's in-flight is no longer the client's λW, and goodput collapses past capacity.
  With ``max_fails`` the timeouts eject both replicas and nginx answers most of the excess with an
  instant 502 the service never sees, which hides how much it held for no one (a run measured the
  law off by only 8.9 % that way, against 15–255 % in the runs before);
* an unbounded pool queue in the shedding slot: admitted requests wait, the excess times out slowly;
* a pool half the predicted size in the shedding slot: it turns away more than the excess.
"""

from __future__ import annotations

import dataclasses

from ...pipeline import Falsifier
from ...stack import StackConfig
from .params import Params


def _pool(stack: StackConfig, size: int) -> StackConfig:
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, pool_min_size=size,
                                                                  pool_max_size=size))


def _smaller_pool(params: Params, stack: StackConfig) -> StackConfig:
    """Half the connections the parameters predict from: half the capacity."""
    return _pool(stack, max(1, params.pool_max_size // 2))


def _quarter_pool(params: Params, stack: StackConfig) -> StackConfig:
    """A quarter of the connections the parameters predict from: a capacity half the knee band's
    lower edge, so the knee falls below the band whichever way its steps' p99s fall."""
    return _pool(stack, max(1, params.pool_max_size // 4))


def _larger_pool(params: Params, stack: StackConfig) -> StackConfig:
    """Twice the connections the parameters predict from (PostgreSQL given room for them)."""
    size = params.pool_max_size * 2
    room = max(stack.postgres.max_connections, params.workers * size + 5)
    return dataclasses.replace(_pool(stack, size), postgres=dataclasses.replace(stack.postgres, max_connections=room))


def _shedding_on(params: Params, stack: StackConfig) -> StackConfig:
    """The pool's queue bounded as in the shedding configuration."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service,
                                                                  pool_max_waiting=params.shed_max_waiting))


def _saturation_steps(params: Params) -> dict[str, object]:
    """Only the steps the plateau past capacity is judged on (the knee needs them all)."""
    return {"rate_steps": ",".join(f"{r:g}" for r in params.saturation_rates())}


def _proxy_gives_up_first(params: Params, stack: StackConfig) -> StackConfig:
    """nginx's read timeout at the SLO, below the pool's timeout, and no passive ejection: past
    capacity it answers 504 while the request still waits for, then holds, a connection."""
    timeout_s = params.slo_p99_ms / 1000.0
    return dataclasses.replace(stack, proxy=dataclasses.replace(stack.proxy, read_timeout_s=timeout_s,
                                                                send_timeout_s=timeout_s, max_fails=0))


def _unbounded_queue(params: Params, stack: StackConfig) -> StackConfig:
    """max_waiting 0 (unbounded): every request queues up to the pool's timeout."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, pool_max_waiting=0))


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    Falsifier("pool-smaller-than-predicted", "a pool a quarter the size the capacity is predicted from",
              "recommended", _quarter_pool, ("recommended.knee-below-capacity",)),
    Falsifier("pool-larger-than-predicted", "a pool twice the size the capacity is predicted from",
              "recommended", _larger_pool,
              ("recommended.knee-below-capacity", "recommended.flat-past-saturation")),
    Falsifier("shedding-switched-on", "the pool's queue bounded (max_waiting) in the unshed stack",
              "recommended", _shedding_on, ("recommended.flat-past-saturation", "no-shedding.p99-breaks-slo"),
              narrow=_saturation_steps),
    Falsifier("proxy-gives-up-first", "nginx's read timeout at the SLO, below the pool's timeout, "
              "no passive ejection (max_fails 0, as ingress-nginx)",
              "recommended", _proxy_gives_up_first,
              ("recommended.littles-law", "recommended.flat-past-saturation")),
    Falsifier("unbounded-queue", "the pool's queue unbounded (max_waiting 0) in the shedding stack",
              "shedding", _unbounded_queue, ("shedding.admitted-p99-within-slo", "shedding.excess-fast-503")),
    Falsifier("shedding-pool-smaller-than-predicted", "a pool half the predicted size behind the bounded queue",
              "shedding", _smaller_pool, ("shedding.sheds-only-the-excess",)),
)
