"""Steady, bounded, open-loop load with one record per request — what a drill needs to count the
errors of a rolling restart by kind, by moment and by method.

Requests leave on a fixed schedule (``rps``), whatever the answers do (open loop), on at most
``max_in_flight`` connections at once (bounded: a client cannot open unlimited connections either).
A request whose turn comes while every slot is busy leaves when one frees, and is marked ``late``: a
drill must not mistake a client that could not send for a quiet service. Each request is a fresh
connection (``drills.stack.http``), so what is recorded is exactly what the client saw.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

from ..errors import ParameterError
from .http import Endpoint

#: A request that left this much after its turn was held back (all slots busy, or a starved client),
#: not merely woken a little late on a busy machine.
LATE_AFTER_S = 0.1


@dataclass
class Sent:
    """One request as the client saw it (wall clock, ``time.time()``)."""

    index: int
    method: str
    path: str
    tag: str
    due_at: float
    sent_at: float = math.nan
    answered_at: float = math.nan
    #: None when no response arrived.
    status: int | None = None
    #: ``refused``, ``reset``, ``closed``, ``timeout``, … (``drills.stack.http``); None with a response.
    failure: str | None = None
    #: The worker that answered, from the body's ``pid`` (None for nginx's own error pages).
    pid: int | None = None
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def kind(self) -> str:
        """``ok``, ``http-<status>`` or the connection failure."""
        if self.ok:
            return "ok"
        return f"http-{self.status}" if self.status is not None else (self.failure or "unknown")

    def to_row(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


#: Given the request's index and tag: its method and path.
RequestFor = Callable[[int, str], tuple[str, str]]


class SteadyLoad:
    """``with SteadyLoad(endpoint, rps=40, max_in_flight=16, request_for=f) as load:`` sends until the
    block ends, then waits for the requests in flight; ``load.sent`` holds every record."""

    def __init__(self, endpoint: Endpoint, *, rps: float, max_in_flight: int, request_for: RequestFor,
                 timeout_s: float, tag_prefix: str = "st") -> None:
        if not 0.1 <= rps <= 1000:
            raise ParameterError("rps", rps, "0.1–1000 requests per second")
        if not 1 <= max_in_flight <= 256:
            raise ParameterError("max_in_flight", max_in_flight, "1–256")
        self.endpoint, self.rps, self.max_in_flight = endpoint, rps, max_in_flight
        self.request_for, self.timeout_s, self.tag_prefix = request_for, timeout_s, tag_prefix
        self.sent: list[Sent] = []
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="drills-steady")
        self._scheduler = threading.Thread(target=self._schedule, name="drills-steady-schedule", daemon=True)
        self._scheduler.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # every request has its own timeout

    def _schedule(self) -> None:
        assert self._pool is not None
        start_wall, start = time.time(), time.monotonic()
        k = 0
        while not self._stop.is_set():
            due = start + k / self.rps
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            while not self._slots.acquire(timeout=0.05):
                if self._stop.is_set():
                    return
            tag = f"{self.tag_prefix}{k:06d}"
            method, path = self.request_for(k, tag)
            record = Sent(k, method, path, tag, start_wall + (due - start),
                          late=time.monotonic() - due > LATE_AFTER_S)
            self.sent.append(record)
            self._pool.submit(self._send, record)
            k += 1

    def _send(self, record: Sent) -> None:
        try:
            record.sent_at = time.time()
            result = self.endpoint.request(record.method, record.path, timeout_s=self.timeout_s)
            record.answered_at = time.time()
            record.status, record.failure = result.status, result.failure
            record.pid = _pid(result.body)
        finally:
            self._slots.release()


def _pid(body: bytes) -> int | None:
    try:
        pid = json.loads(body).get("pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None
