"""What the Flask and Django apps share on Gunicorn's ``sync`` and ``gthread`` workers: query
parameters checked as FastAPI checks them, the request budget without asyncio, the request
metrics middleware and the pool-statistics sampler thread.

The request budget in a WSGI worker
-----------------------------------
There is no ``asyncio.timeout`` and Python cannot interrupt a thread, and Flask and Django have
no request timeout (FACTS-wsgi §3, §4). :class:`Budget` therefore enforces the budget at the
points where ``/work`` waits: the app's own delay is cut at the deadline, and a running query is
cancelled by a timer thread (psycopg's ``Connection.cancel_safe()``, the server-side cancel the
async driver sends when its task is cancelled), then reported as ``request_budget_exceeded``, not
as the database's 57014. Two waits are **not** cut: the pool wait (bounded by ``pool_timeout_s``;
the deadline is checked as soon as a connection arrives) and arbitrary blocking code such as
``/block`` (only Gunicorn's ``timeout`` ends that, and only under ``sync``).
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import psycopg

from . import metrics
from .outcomes import BudgetExceeded
from .work import MAX_DELAY_S, TAG_PATTERN

STATS_INTERVAL_S = 0.25


class BadParameter(ValueError):
    """A query parameter FastAPI would have refused with 422."""


def delay_param(args: Mapping[str, str], name: str, *, required: bool = False) -> float:
    """A delay in seconds, 0–``MAX_DELAY_S`` (as ``Query(ge=0, le=600)`` in the FastAPI app)."""
    text = args.get(name)
    if text is None:
        if required:
            raise BadParameter(f"{name}: field required")
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r}: not a number") from None
    if not 0.0 <= value <= MAX_DELAY_S:  # NaN fails this too
        raise BadParameter(f"{name}={value:g}: must be 0–{MAX_DELAY_S:g}")
    return value


def tag_param(args: Mapping[str, str]) -> str:
    tag = args.get("tag", "")
    if not re.fullmatch(TAG_PATTERN, tag):
        raise BadParameter(f"tag={tag!r}: must match {TAG_PATTERN}")
    return tag


class Budget:
    """The app's deadline for one request (``request_budget_s``; 0 disables it)."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self._deadline = time.monotonic() + budget_s if budget_s > 0 else math.inf

    def remaining_s(self) -> float:
        return self._deadline - time.monotonic()

    def check(self) -> None:
        if self.remaining_s() <= 0:
            raise BudgetExceeded(self.budget_s)

    def sleep(self, seconds: float) -> None:
        """The app's own delay, cut at the deadline."""
        left = self.remaining_s()
        if seconds <= left:
            time.sleep(seconds)
            return
        time.sleep(max(left, 0.0))
        raise BudgetExceeded(self.budget_s)

    @contextlib.contextmanager
    def cancelling(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Cancel ``conn``'s running query at the deadline; the error that follows becomes BudgetExceeded."""
        self.check()
        left = self.remaining_s()
        if math.isinf(left):
            yield
            return
        fired = threading.Event()

        def cancel() -> None:
            fired.set()
            conn.cancel_safe(timeout=5.0)

        timer = threading.Timer(left, cancel)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as exc:  # QueryCanceled, or SQLAlchemy's / Django's wrapper of it
            if fired.is_set():
                raise BudgetExceeded(self.budget_s) from exc
            raise
        finally:
            timer.cancel()
            timer.join()  # a cancel still being sent must not reach this connection's next query


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RequestMetrics:
    """WSGI middleware: counts and times every response, like the FastAPI app's ASGI middleware.

    ``routes`` are the paths the app serves; anything else is labelled ``unmatched``.
    """

    def __init__(self, inner: WSGIApp, routes: Iterable[str]) -> None:
        self.inner = inner
        self.routes = frozenset(routes)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        path = environ.get("PATH_INFO", "")
        route = path if path in self.routes else "unmatched"
        counted = path != "/metrics"  # a scrape must not count itself as load
        status = 500

        def watch(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status
            status = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        if counted:
            metrics.IN_FLIGHT.inc()
        try:
            # Bodies here are small and already built: joining them keeps the timing in this frame.
            body = self.inner(environ, watch)
            try:
                return [b"".join(body)]
            finally:
                # The server would call close(); Django sends request_finished from it, which
                # hands the request's connection back to the pool.
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        finally:
            if counted:
                metrics.IN_FLIGHT.dec()
            metrics.REQUESTS.labels(route=route, status=str(status)).inc()
            metrics.LATENCY.labels(route=route).observe(time.monotonic() - started)


def start_pool_sampler(pop_stats: Callable[[], dict[str, int]]) -> threading.Thread:
    """Feed ``pop_stats()`` into the metrics every STATS_INTERVAL_S, from a daemon thread (it runs
    while a sync worker's only request thread sleeps or waits on the database: both release the GIL)."""

    def loop() -> None:
        while True:
            try:
                metrics.record_pool_stats(pop_stats())
            except Exception:  # a sampler must never take the worker down; the next tick retries
                pass
            time.sleep(STATS_INTERVAL_S)

    thread = threading.Thread(target=loop, name="drills-pool-stats", daemon=True)
    thread.start()
    return thread
