"""The Flask and Django pool drill's falsifiers: for every hypothesis, a harmful stack under which it
must fail. The predictions stay those of the parameters; only the stack in one slot changes: a pool
larger or smaller than declared, and the frameworks' default 30 s pool wait (scaled), past nginx's."""

from __future__ import annotations

import dataclasses

from ....pipeline import Falsifier
from ....stack import StackConfig
from .params import FlaskPoolParams


def _pool_of(size: int, stack: StackConfig) -> StackConfig:
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, pool_max_size=size))


def _larger_pool(params: FlaskPoolParams, stack: StackConfig) -> StackConfig:
    """Two more connections per worker than declared (SQLAlchemy: max_overflow + 2), fewer than its threads."""
    return _pool_of(params.pool_max_size + 2, stack)


def _smaller_pool(params: FlaskPoolParams, stack: StackConfig) -> StackConfig:
    """Half the connections per worker the parameters declare: capacity is not what they predict."""
    return _pool_of(max(stack.service.pool_min_size + 1, params.pool_max_size // 2), stack)


def _default_pool_timeout(params: FlaskPoolParams, stack: StackConfig) -> StackConfig:
    """SQLAlchemy's and Django's default pool wait, 30 s × 0.5 = 15 s: past nginx's read timeout."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service,
                                                                  pool_timeout_s=params.default_pool_timeout_s()))


def _plateau_steps(params: FlaskPoolParams) -> dict[str, object]:
    """Only the steps judged against capacity."""
    return {"concurrency_steps": ",".join(map(str, params.plateau_users()))}


def _peak_step(params: FlaskPoolParams) -> dict[str, object]:
    """Only the last step: the most threads wanting a connection."""
    return {"concurrency_steps": str(params.steps()[-1])}


FALSIFIERS: tuple[Falsifier[FlaskPoolParams], ...] = (
    Falsifier("pool-larger-than-declared", "two more pool connections per worker than declared", "recommended",
              _larger_pool, ("recommended.server-connections-bounded",), narrow=_peak_step),
    Falsifier("pool-smaller-than-declared", "half the pool connections per worker the parameters declare",
              "recommended", _smaller_pool, ("recommended.capacity-littles-law",), narrow=_plateau_steps),
    Falsifier("framework-default-pool-timeout", "the frameworks' default 30 s pool wait (scaled), past nginx's read "
              "timeout", "gthread", _default_pool_timeout, ("gthread.pool-503-on-time",)),
)
