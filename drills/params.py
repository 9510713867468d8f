"""Typed drill parameters, converted and checked before any process starts.

Each drill declares a frozen dataclass derived from :class:`DrillParams`. The CLI (strings from
``-p name=value``), a notebook (values papermill injected, typed by guesswork) and Python callers
all build the same object, so a bad value fails the same way everywhere, with a one-line
:class:`~drills.errors.ParameterError` that names the parameter, the value and what is allowed.

Papermill only warns about an unknown parameter and never converts ``-p`` values to the default's
type (``../shared/FACTS.md`` §10); :meth:`DrillParams.from_namespace` closes both gaps.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .errors import ParameterError

if TYPE_CHECKING:
    from .target import TargetSpec

#: What a parameters cell assigns (and papermill injects): plain values. Anything else in a
#: notebook's namespace is the notebook's own (modules, the drill, its findings, a run folder).
_PARAMETER_VALUES = (bool, int, float, str, type(None), list, tuple, dict)
# Names a notebook namespace holds besides the parameters cell (IPython's own and ours).
_NOTEBOOK_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class DrillParams:
    """Base of every drill's parameters; subclasses add fields and override :meth:`check`.

    Field names carry their unit (``_s`` seconds, ``_ms`` milliseconds, ``_pct`` percent).
    The four ``target`` fields, common to every drill, point it at a deployment it does not own
    (``drills.target``); empty, the drill starts the embedded local stack.
    """

    #: Names a notebook's parameters cell may define that are not drill parameters.
    notebook_only: ClassVar[frozenset[str]] = frozenset({"out_dir"})
    #: The parameters that choose and cap a target, shown only when a run used one.
    TARGET_FIELDS: ClassVar[tuple[str, ...]] = ("target_url", "allow_hosts", "target_max_rps", "target_max_duration_s")
    #: The parameters that shape the load only (which steps are sent), never what the hypotheses
    #: predict: the ones a falsifier may narrow to what its hypotheses are judged on.
    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ()

    #: Base URL of an existing deployment of the service (e.g. staging); "" starts the local stack.
    #: Its database DSN comes from the DRILLS_TARGET_DSN environment variable, never a parameter.
    target_url: str = ""
    #: Hosts other than loopback that target_url and DRILLS_TARGET_DSN may name (comma-separated).
    allow_hosts: str = ""
    #: Caps on load against a target that is not loopback (required there): requests per second …
    target_max_rps: float = 0.0
    #: … and seconds of load.
    target_max_duration_s: float = 0.0

    def __post_init__(self) -> None:
        types_ = self.field_types()
        for field in dataclasses.fields(self):
            # Direct construction gets the same conversion and errors as from_mapping.
            value = _convert(field.name, getattr(self, field.name), types_[field.name])
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(field.name, value, "must be a finite number")
            object.__setattr__(self, field.name, value)
        self.check()
        self._check_target()

    def check(self) -> None:
        """Raise ParameterError for values or combinations that cannot work."""

    def selected_configurations(self) -> list[str]:
        """The configurations this run starts, in the order given; drills override it."""
        return []

    def planned_load(self) -> tuple[float | None, float]:
        """(peak offered requests/s, or None when the load is closed-loop; seconds of load) that the
        drill sends to a target. Drills override it; the caps are checked against it."""
        return None, 0.0

    def target(self) -> TargetSpec | None:
        """The checked target, or None for the local stack (reads DRILLS_TARGET_DSN; no connection)."""
        from .target import resolve_target

        return resolve_target(self.target_url, self.allow_hosts, self.target_max_rps, self.target_max_duration_s)

    def _check_target(self) -> None:
        require_between("target_max_rps", self.target_max_rps, 0, 100_000, "req/s")
        require_between("target_max_duration_s", self.target_max_duration_s, 0, 86_400, "s")
        spec = self.target()
        if spec is None:
            return
        peak_rps, load_s = self.planned_load()
        if spec.max_duration_s is not None and load_s > spec.max_duration_s:
            raise ParameterError("target_max_duration_s", spec.max_duration_s,
                                 f"the drill's plan sends load for up to {load_s:g} s; raise the cap or shorten the plan")
        if spec.max_rps is not None and peak_rps is not None and peak_rps > spec.max_rps:
            raise ParameterError("target_max_rps", spec.max_rps,
                                 f"the drill's plan offers up to {peak_rps:g} req/s; raise the cap or lower the rates")

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Self:
        """Build from loose values (strings from a CLI, guesses from papermill).

        Each value is converted to its field's declared type; unknown names are refused.
        """
        known = cls.field_types()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(unknown[0], values[unknown[0]], unknown_name(unknown[0], known))
        converted: dict[str, Any] = {name: _convert(name, value, known[name]) for name, value in values.items()}
        return cls(**converted)

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, object]) -> Self:
        """Build from a notebook's globals, right after its parameters cell.

        Every plain value in the namespace must be a parameter (or a notebook-only name such as
        ``out_dir``), so a misspelled ``-p workerz 4`` fails here instead of being ignored.
        """
        known = cls.field_types()
        values: dict[str, object] = {}
        for name, value in namespace.items():
            if name.startswith("_") or name in _NOTEBOOK_NAMES or name in cls.notebook_only:
                continue
            if name not in known and not isinstance(value, _PARAMETER_VALUES):
                continue  # the notebook's own objects (modules, the drill, its findings), not parameters
            if name not in known:
                raise ParameterError(name, value, unknown_name(name, known))
            values[name] = value
        return cls.from_mapping(values)

    @classmethod
    def field_types(cls) -> dict[str, type]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def replace(self, **changes: object) -> Self:
        return self.from_mapping({**self.to_dict(), **changes})


# -- checks used by the drills' check() methods ----------------------------------------------------


def require_positive(name: str, value: float, unit: str = "s") -> None:
    if not value > 0:
        raise ParameterError(name, value, f"must be > 0 {unit}".rstrip())


def require_between(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise ParameterError(name, value, f"must be between {low:g} and {high:g}{' ' + unit if unit else ''}")


def require_less(name: str, value: float, other_name: str, other: float, why: str) -> None:
    if not value < other:
        raise ParameterError(name, value, f"must be < {other_name}={other:g} ({why})")


#: PostgreSQL's default ``superuser_reserved_connections``: slots only superusers may take.
SUPERUSER_RESERVED_CONNECTIONS = 3


def require_connections_fit(name: str, value: object, *, workers: int, pool_max_size: int, max_connections: int,
                            extra: int = 0, why: str = "") -> None:
    """The fleet's connection budget: every worker's pool at its max size (plus ``extra`` connections
    of the drill's own) must fit in the slots left after the superuser reserve."""
    needed = workers * pool_max_size + extra
    open_slots = max_connections - SUPERUSER_RESERVED_CONNECTIONS
    if needed > open_slots:
        own = f" + {extra} drill connections" if extra else ""
        raise ParameterError(
            name, value,
            f"workers ({workers}) × pool_max_size{own} = {needed} exceeds the {open_slots} non-superuser slots of "
            f"max_connections={max_connections}; use pool_max_size ≤ {max(0, (open_slots - extra) // workers)} "
            f"or raise max_connections" + (f" ({why})" if why else ""))


def unknown_name(name: str, known: Iterable[str], what: str = "unknown parameter") -> str:
    """"unknown parameter; did you mean workers? known: …" — the nearest valid name first."""
    import difflib

    known = list(known)
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"{what}; {f'did you mean {near[0]}? ' if near else ''}known: {', '.join(known)}"


def split_names(text: str) -> list[str]:
    """"a, b,,c" -> ["a", "b", "c"]: a comma-separated parameter's items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def require_choices(name: str, values: Iterable[str], allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for value in values:
        if value not in allowed:
            raise ParameterError(name, value, f"must be among {', '.join(allowed)}")


# -- conversion -----------------------------------------------------------------------------------


def _convert(name: str, value: object, target: type) -> object:
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.strip().lower() in {"true", "yes", "1"}
        raise ParameterError(name, value, "must be true or false")
    if target is int:
        if isinstance(value, bool):
            raise ParameterError(name, value, "must be a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ParameterError(name, value, "must be a whole number")
    if target is float:
        if isinstance(value, bool):
            raise ParameterError(name, value, "must be a number")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        unit = " of seconds" if name.endswith("_s") else ""
        raise ParameterError(name, value, f"must be a number{unit}")
    if target is str:
        if isinstance(value, str):
            return value
        raise ParameterError(name, value, "must be a string")
    raise ParameterError(name, value, f"has unsupported type {target!r}")  # pragma: no cover
