"""Durations as each component reads them, normalised to seconds.

The same "20" means 20 s to nginx and to an ingress-nginx annotation, 20 ms to PostgreSQL's
``statement_timeout``, and 20 s to libpq's ``connect_timeout`` but 20 ms to its ``tcp_user_timeout``.
Each parser takes the text as written and the component's unit for a bare number.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..recommended import Value

#: Text as written → the value a component reads (seconds for a duration).
Parse = Callable[[str], Value]


class UnitError(ValueError):
    """A duration the component would refuse (or silently replace): the message says why."""


#: nginx's time units (``ngx_parse_time``); a bare number is seconds.
_NGINX = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400}
_NGINX_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
#: PostgreSQL's time units (``guc.c``); a bare number is the parameter's own unit.
_POSTGRES = {"us": 1e-6, "ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
_POSTGRES_VALUE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)$")
#: Units a paper's table may write ("2 s", "8000 ms", "2 min").
_PROSE = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}


def nginx_seconds(text: str) -> float:
    """``"20s"``, ``"20000ms"``, ``"20"`` (seconds), ``"1m30s"`` → seconds, as nginx parses a time."""
    value = text.strip()
    if not value:
        raise UnitError("empty time")
    total, at = 0.0, 0
    while at < len(value):
        part = _NGINX_PART.match(value, at)
        if not part:
            raise UnitError(f"nginx cannot parse '{text}' as a time (whole numbers with ms, s, m, h, d, w, M or y)")
        total += int(part.group(1)) * _NGINX[part.group(2) or "s"]
        at = part.end()
        while at < len(value) and value[at] == " ":
            at += 1
    return total


def postgres_seconds(text: str, bare_unit: str = "ms") -> float:
    """``"5s"``, ``'5000'`` (in ``bare_unit``: ms for ``statement_timeout`` and its kin), ``"1min"`` →
    seconds, as PostgreSQL parses a time setting; quotes around the value are dropped."""
    value = text.strip().strip("'\"").strip()
    match = _POSTGRES_VALUE.match(value)
    if not match or (match.group(2) or bare_unit) not in _POSTGRES:
        raise UnitError(f"PostgreSQL cannot parse '{text}' as a time (units: {', '.join(_POSTGRES)})")
    return float(match.group(1)) * _POSTGRES[match.group(2) or bare_unit]


def ingress_seconds(text: str) -> float:
    """An ingress-nginx timeout annotation or ConfigMap value: integer seconds, no suffix. ``"20s"``
    fails the controller's integer parsing and its default applies silently, so it is an error here."""
    value = text.strip().strip("'\"")
    if not re.fullmatch(r"[0-9]+", value):
        raise UnitError(f"ingress-nginx reads '{text}' as an integer of seconds and fails on it (the global "
                        "default then applies silently); write a bare number: \"20\"")
    return float(value)


def prose_seconds(text: str) -> float:
    """A duration in a paper's table: ``"2 s"``, ``"8000 ms"``, ``"2 min"``; a bare number is seconds."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", text)
    if not match or (match.group(2) and match.group(2) not in _PROSE):
        raise UnitError(f"'{text}' is not a duration (a number with ms, s, min or h)")
    return float(match.group(1)) * _PROSE[match.group(2) or "s"]


def whole_seconds(text: str) -> float:
    """Gunicorn, Kubernetes and the ALB: integer seconds, no unit."""
    value = text.strip().strip("'\"")
    if not re.fullmatch(r"[0-9]+", value):
        raise UnitError(f"'{text}' is not a whole number of seconds")
    return float(value)


def count(text: str) -> int | str:
    """A count (``"16"`` → 16); anything else (``"25%"``) stays text, to be compared as written."""
    value = text.strip().strip("'\"")
    return int(value) if re.fullmatch(r"-?[0-9]+", value) else value


def float_seconds(text: str) -> float:
    """A Python float of seconds (psycopg_pool's ``timeout``)."""
    try:
        return float(text)
    except ValueError as exc:
        raise UnitError(f"'{text}' is not a number of seconds") from exc


def plain_number(text: str) -> float:
    """A plain number without a unit (a ratio: ``0.1``)."""
    try:
        return float(text.strip().strip("'\""))
    except ValueError as exc:
        raise UnitError(f"'{text}' is not a number") from exc


def text_value(text: str) -> str:
    """A name or a list of words, quotes dropped and spaces collapsed."""
    return " ".join(text.strip().strip("'\"").split())
