"""The drills: one package each, and the registry that maps a drill's name to its spec.

A drill is a :class:`~drills.pipeline.DrillSpec` named ``SPEC`` in ``drills/catalog/<drill>/``,
split along the pipeline: ``params`` (its knobs and their checks), ``configurations`` (the stacks
it starts), ``measure``, ``judge``, ``report`` (tables, observations) and ``charts``. Add one here
and it is listed, run, verified and exported.

A drill whose mechanism differs per framework registers one spec per framework: the FastAPI one
under the drill's name, the others as variants ``<drill>-<framework>`` (``DrillSpec.family``;
``notes/framework-drills.md``). ``get(name, framework)`` finds the variant.
"""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError
from ..pipeline import DrillSpec
from .load_capacity import SPEC as LOAD_CAPACITY
from .pool_exhaustion import SPEC as POOL_EXHAUSTION
from .pool_exhaustion.wsgi import DJANGO_SPEC as POOL_EXHAUSTION_DJANGO
from .pool_exhaustion.wsgi import FLASK_SPEC as POOL_EXHAUSTION_FLASK
from .proxy_upstreams import SPEC as PROXY_UPSTREAMS
from .retry_amplification import SPEC as RETRY_AMPLIFICATION
from .rolling_restart import SPEC as ROLLING_RESTART
from .timeout_ladder import DJANGO_SPEC as TIMEOUT_LADDER_DJANGO
from .timeout_ladder import FLASK_SPEC as TIMEOUT_LADDER_FLASK
from .timeout_ladder import SPEC as TIMEOUT_LADDER

#: Every drill, in the order `drills verify` runs them: FastAPI's first, then the other frameworks'.
REGISTRY: tuple[DrillSpec[Any, Any], ...] = (TIMEOUT_LADDER, PROXY_UPSTREAMS, POOL_EXHAUSTION, LOAD_CAPACITY,
                                            RETRY_AMPLIFICATION, ROLLING_RESTART, TIMEOUT_LADDER_FLASK,
                                            TIMEOUT_LADDER_DJANGO, POOL_EXHAUSTION_FLASK, POOL_EXHAUSTION_DJANGO)
#: The frameworks a drill can run for.
FRAMEWORKS = ("fastapi", "flask", "django")

DRILLS: dict[str, DrillSpec[Any, Any]] = {spec.name: spec for spec in REGISTRY}


def get(name: str, framework: str | None = None) -> DrillSpec[Any, Any]:
    """The drill called ``name``, or, with ``framework``, the variant of its family that runs that
    framework; ParameterError names the known drills or the frameworks the family has otherwise."""
    try:
        spec = DRILLS[name]
    except KeyError:
        raise ParameterError("drill", name, f"unknown drill; known: {', '.join(DRILLS)}") from None
    if framework is None or framework == spec.framework:
        return spec
    members = family(spec.family_name)
    for member in members:
        if member.framework == framework:
            return member
    raise ParameterError("framework", framework, f"{spec.family_name} runs for "
                         f"{', '.join(m.framework for m in members)}" + (
                             "" if framework in FRAMEWORKS else f" (frameworks: {', '.join(FRAMEWORKS)})"))


def family(name: str) -> list[DrillSpec[Any, Any]]:
    """The drill ``name`` and its variants for other frameworks, in the registry's order."""
    return [spec for spec in REGISTRY if spec.family_name == name]


def all_drills() -> list[DrillSpec[Any, Any]]:
    return list(REGISTRY)


def of_frameworks(frameworks: list[str]) -> list[DrillSpec[Any, Any]]:
    """The registered specs that run one of ``frameworks`` (each checked)."""
    for framework in frameworks:
        if framework not in FRAMEWORKS:
            raise ParameterError("--framework", framework, f"must be among {', '.join(FRAMEWORKS)}")
    return [spec for spec in REGISTRY if spec.framework in frameworks]


__all__ = ["DRILLS", "FRAMEWORKS", "REGISTRY", "all_drills", "family", "get", "of_frameworks"]
