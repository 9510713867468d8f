"""The drills: one package each, and the registry that maps a drill's name to its spec.

A drill is a :class:`~drills.pipeline.DrillSpec` named ``SPEC`` in ``drills/catalog/<drill>/``,
split along the pipeline: ``params`` (its knobs and their checks), ``configurations`` (the stacks
it starts), ``measure``, ``judge``, ``report`` (tables, observations) and ``charts``. Add one here
and it is listed, run, verified and exported.
"""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError
from ..pipeline import DrillSpec
from .load_capacity import SPEC as LOAD_CAPACITY
from .pool_exhaustion import SPEC as POOL_EXHAUSTION
from .proxy_upstreams import SPEC as PROXY_UPSTREAMS
from .retry_amplification import SPEC as RETRY_AMPLIFICATION
from .timeout_ladder import SPEC as TIMEOUT_LADDER

#: Every drill, in the order `drills verify` runs them.
REGISTRY: tuple[DrillSpec[Any, Any], ...] = (TIMEOUT_LADDER, PROXY_UPSTREAMS, POOL_EXHAUSTION, LOAD_CAPACITY,
                                            RETRY_AMPLIFICATION)

DRILLS: dict[str, DrillSpec[Any, Any]] = {spec.name: spec for spec in REGISTRY}


def get(name: str) -> DrillSpec[Any, Any]:
    """The drill called ``name``; ParameterError names the known drills otherwise."""
    try:
        return DRILLS[name]
    except KeyError:
        raise ParameterError("drill", name, f"unknown drill; known: {', '.join(DRILLS)}") from None


def all_drills() -> list[DrillSpec[Any, Any]]:
    return list(REGISTRY)


__all__ = ["DRILLS", "REGISTRY", "all_drills", "get"]
