"""The drills: one module per drill, and the registry that maps a drill's name to it.

A drill module exposes ``NAME``, ``PAPER`` (file under papers/), ``NOTEBOOK`` (file under
notebooks/), ``Params`` (a DrillParams dataclass) and ``run(params, run_dir) -> Findings``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ParameterError

#: drill name -> module path. Add a drill here and it is listed, run, verified and exported.
DRILLS = {
    "timeout-ladder": "drills.catalog.timeout_ladder",
    "pool-exhaustion": "drills.catalog.pool_exhaustion",
    "load-capacity": "drills.catalog.load_capacity",
}


def get(name: str) -> ModuleType:
    """The drill module called ``name``; ParameterError names the known drills otherwise."""
    if name not in DRILLS:
        raise ParameterError("drill", name, f"unknown drill; known: {', '.join(DRILLS)}")
    return importlib.import_module(DRILLS[name])


def all_drills() -> list[ModuleType]:
    return [get(name) for name in DRILLS]
