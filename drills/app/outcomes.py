"""How the service gives up, with the layer named: one table for the three frameworks.

=========================== ====== ========== ===========================
cause                       status layer      error
=========================== ====== ========== ===========================
statement_timeout (57014)   504    database   query_cancelled
the app's request budget    504    app        request_budget_exceeded
pool wait timeout           503    pool       pool_timeout
pool queue full             503    pool       pool_queue_full
server unreachable, 53300   503    database   database_unavailable
=========================== ====== ========== ===========================

FastAPI sees psycopg's own exceptions; SQLAlchemy wraps them (``exc.orig``) and Django re-raises
them as ``django.db.utils.*`` (``__cause__``), and SQLAlchemy's QueuePool has its own timeout
(``sqlalchemy.exc.TimeoutError``, which is neither an ``OperationalError`` nor Python's
``TimeoutError``: FACTS-wsgi §3). :func:`classify` looks through those wrappers, so the WSGI apps
answer exactly what the FastAPI app answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout, TooManyRequests

from . import metrics


class BudgetExceeded(Exception):
    """The request ran past the app's request budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s


@dataclass(frozen=True)
class GaveUp:
    """One answer of the table above: status, the layer that gave up, and why."""

    status: int
    layer: str
    error: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "layer": self.layer, "detail": self.detail, **self.extra}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()

    def headers(self) -> dict[str, str]:
        # The header lets a proxy log the layer ($upstream_http_x_timeout_layer) without parsing bodies.
        return {"X-Timeout-Layer": self.layer, "X-Drills-Error": self.error}

    def count(self) -> GaveUp:
        """Count it in ``drills_app_gave_up`` (once per answer); returns itself."""
        metrics.GAVE_UP.labels(layer=self.layer, error=self.error).inc()
        return self


def budget_exceeded(budget_s: float) -> GaveUp:
    return GaveUp(504, "app", "request_budget_exceeded",
                  f"request budget of {budget_s:g} s exceeded; the running query was cancelled",
                  {"budget_s": budget_s})


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: SQLAlchemy's ``orig``, then ``__cause__``/``__context__``."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]
    return seen


def _is_sqlalchemy_pool_timeout(exc: BaseException) -> bool:
    # Matched by name so that this module (and the FastAPI app) need not import SQLAlchemy.
    return type(exc).__module__ == "sqlalchemy.exc" and type(exc).__name__ == "TimeoutError"


def classify(exc: BaseException) -> GaveUp | None:
    """The answer for an exception of any framework's database layer; None for anything else
    (a real bug: the framework's own 500)."""
    chain = _chain(exc)
    for e in chain:  # most specific first: a QueryCanceled is also an OperationalError
        if isinstance(e, BudgetExceeded):
            return budget_exceeded(e.budget_s)
        if isinstance(e, pg_errors.QueryCanceled):
            return GaveUp(504, "database", "query_cancelled", str(e).strip(), {"sqlstate": e.sqlstate})
        if isinstance(e, TooManyRequests):
            return GaveUp(503, "pool", "pool_queue_full", str(e).strip())
        if isinstance(e, PoolTimeout) or _is_sqlalchemy_pool_timeout(e):
            return GaveUp(503, "pool", "pool_timeout", str(e).strip())
    for e in chain:
        if isinstance(e, psycopg.OperationalError):
            return GaveUp(503, "database", "database_unavailable", str(e).strip(), {"sqlstate": e.sqlstate})
    return None
