"""Watch the server side while a drill sends requests: what PostgreSQL and the handlers really did.

``ServerWatch`` samples ``pg_stat_activity`` every ``interval_s`` for queries tagged
``/* drill:<tag> */`` and tails the service's request ledger (one line per tagged request, written
when its handler really ended). Together they show work that outlives the response a client got.

Sightings are samples: a query last seen at ``t`` ended somewhere in ``(t, t + interval_s]``, so
the sampling interval is the resolution of every "kept running for" number.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .errors import MeasurementError
from .stack.http import Endpoint
from .stack.postgres import EXEMPT_FROM_TIMEOUTS

#: Opens a connection for the sampler: the local stack's superuser, or a target's DRILLS_TARGET_DSN.
Connect = Callable[..., psycopg.Connection]

_TAG = re.compile(r"/\* drill:([A-Za-z0-9_-]+) \*/")
_ACTIVE_TAGGED = (
    "SELECT query FROM pg_stat_activity "
    "WHERE state = 'active' AND pid <> pg_backend_pid() AND position('/* drill:' in query) > 0"
)


@dataclass
class Sighting:
    """First and last time (epoch seconds) a tagged query was seen active."""

    first_s: float
    last_s: float


class ServerWatch:
    """Background sampler; use as ``with ServerWatch(stack.connect, stack.ledger_dirs, 0.02) as watch:``.

    No ``ledger_dirs`` (a target the drill does not own): no handler ledger, queries only;
    ``connect`` None too (a target without DRILLS_TARGET_DSN): nothing is watched, nothing seen.
    """

    def __init__(self, connect: Connect | None, ledger_dirs: Sequence[Path], interval_s: float) -> None:
        self.connect = connect
        self.ledger_dirs = tuple(ledger_dirs)
        self.interval_s = interval_s
        self.sightings: dict[str, Sighting] = {}
        self.ledger: dict[str, dict[str, Any]] = {}
        self.samples = 0
        self._offsets: dict[Path, int] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="drills-server-watch", daemon=True)
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> ServerWatch:
        if self.connect is not None:
            self._conn = self.connect(options=EXEMPT_FROM_TIMEOUTS)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._read_ledgers()  # lines written after the last sample

    def check(self) -> None:
        """Raise if the sampler died: a drill must not judge on a watch that stopped watching."""
        if self._error is not None:
            raise MeasurementError(f"pg_stat_activity sampling failed: {self._error}") from self._error

    def wait_for_handler(self, tag: str, timeout_s: float) -> dict[str, Any] | None:
        """Block until the ledger shows ``tag``'s handler ended (or ``timeout_s`` passes)."""
        if not self.ledger_dirs:
            return None
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while tag not in self.ledger:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._error is not None:
                    return None
                self._changed.wait(min(remaining, 0.05))
            return self.ledger[tag]

    def wait_until_no_query(self, tags: set[str], timeout_s: float) -> bool:
        """Block until none of ``tags`` was seen in the last two samples."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = time.time()
            with self._changed:
                busy = [t for t in tags if t in self.sightings and now - self.sightings[t].last_s < 2 * self.interval_s]
            if not busy:
                return True
            time.sleep(self.interval_s)
        return False

    # -- the sampler ----------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._conn is not None
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                rows = self._conn.execute(_ACTIVE_TAGGED).fetchall()
                seen_at = time.time()
                with self._changed:
                    for (query,) in rows:
                        match = _TAG.search(query or "")
                        if not match:
                            continue
                        tag = match.group(1)
                        sighting = self.sightings.get(tag)
                        if sighting is None:
                            self.sightings[tag] = Sighting(seen_at, seen_at)
                        else:
                            sighting.last_s = seen_at
                    self.samples += 1
                self._read_ledgers()
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - reported through check()
            self._error = exc
            with self._changed:
                self._changed.notify_all()

    def _read_ledgers(self) -> None:
        new: dict[str, dict[str, Any]] = {}
        for path in sorted(p for d in self.ledger_dirs for p in d.glob("ledger-*.jsonl")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = offset + len(complete)
            for line in complete.decode("utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    new[entry["tag"]] = entry
        if new:
            with self._changed:
                self.ledger.update(new)
                self._changed.notify_all()


@dataclass
class PoolReading:
    """One sample of the service's pools (summed over every worker) and the server's connections."""

    at_s: float  # epoch seconds
    waiting: float
    size: float
    available: float
    queued_total: float
    wait_s_total: float
    request_errors_total: float
    connection_errors_total: float
    #: Connections of the app role in pg_stat_activity, by state ("active", "idle", …).
    server_by_state: dict[str, int]
    #: Requests being handled by the service (its in-flight gauge, /metrics excluded).
    in_flight: float = 0.0
    #: The service's own request timer (histogram sum and count, /metrics excluded): between two
    #: readings, Δsum ÷ Δcount is the mean latency at the service's boundary, without the proxy hop.
    latency_sum_s: float = 0.0
    latency_count: float = 0.0
    #: Connections requested from the pools (queued or not): Δwait_s_total ÷ Δrequests_total is
    #: the mean wait for a connection over every request between two readings.
    requests_total: float = 0.0

    @property
    def server_total(self) -> int:
        return sum(self.server_by_state.values())


_POOL_METRICS = {
    "drills_pool_requests_waiting": "waiting",
    "drills_pool_size": "size",
    "drills_pool_available": "available",
    "drills_pool_requests_queued_total": "queued_total",
    "drills_pool_wait_seconds_total": "wait_s_total",
    "drills_pool_request_errors_total": "request_errors_total",
    "drills_pool_connection_errors_total": "connection_errors_total",
    "drills_http_requests_in_flight": "in_flight",
    "drills_pool_requests_total": "requests_total",
}
_APP_CONNECTIONS = (
    "SELECT coalesce(state, 'starting'), count(*) FROM pg_stat_activity WHERE usename = %s GROUP BY 1"
)
# On a target the app's role is not known: every client backend but the drill's own (its sampler
# and probes connect as application_name drills-observer).
_CLIENT_CONNECTIONS = (
    "SELECT coalesce(state, 'starting'), count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND application_name <> 'drills-observer' GROUP BY 1"
)


_TIMER = {"drills_http_request_duration_seconds_sum": "latency_sum_s",
          "drills_http_request_duration_seconds_count": "latency_count"}


def parse_pool_metrics(text: str) -> dict[str, float]:
    """The pool figures from the service's Prometheus text, summed over label sets (the request
    timer over every route but /metrics, which the in-flight gauge leaves out too)."""
    from prometheus_client.parser import text_string_to_metric_families

    values = dict.fromkeys([*_POOL_METRICS.values(), *_TIMER.values()], 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = _POOL_METRICS.get(sample.name)
            if key is None and sample.labels.get("route") != "/metrics":
                key = _TIMER.get(sample.name)
            if key is not None:
                values[key] += sample.value
    return values


def sum_metrics(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    """The replicas' figures added up: every one is a count, a sum or a gauge of the whole fleet."""
    total: dict[str, float] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0.0) + value
    return total


class PoolWatch:
    """Samples ``/metrics`` (every worker, via prometheus multiprocess) and ``pg_stat_activity``.

    ``with PoolWatch(stack.connect, stack.metrics, 0.25) as watch: …`` — ``watch.readings`` holds one
    PoolReading per interval, summed over the replicas' endpoints (a reading is kept only when every
    replica answered). On the local stack each replica is asked directly (not through nginx) so the
    proxy sees only the load. ``connect`` None (a target without DRILLS_TARGET_DSN): no
    server-side counts; ``role`` None: every client connection counts, not one role's.
    """

    def __init__(self, connect: Connect | None, metrics: Sequence[Endpoint], interval_s: float,
                 role: str | None = "app") -> None:
        self.connect = connect
        self.metrics = tuple(metrics)
        self.interval_s = interval_s
        self.role = role
        self.readings: list[PoolReading] = []
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="drills-pool-watch", daemon=True)

    def __enter__(self) -> PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def check(self) -> None:
        if self._error is not None:
            raise MeasurementError(f"pool sampling failed: {self._error}") from self._error

    def _loop(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                if conn is None and self.connect is not None:
                    # Superuser over the socket: uses a reserved slot when the app has taken the rest.
                    conn = self.connect(options=EXEMPT_FROM_TIMEOUTS)
                rows = [] if conn is None else (
                    conn.execute(_APP_CONNECTIONS, [self.role]) if self.role
                    else conn.execute(_CLIENT_CONNECTIONS)).fetchall()
                responses = [endpoint.get("/metrics", timeout_s=2.0) for endpoint in self.metrics]
                if responses and all(r.status == 200 for r in responses):
                    pool = sum_metrics(parse_pool_metrics(r.body.decode("utf-8", "replace")) for r in responses)
                    self.readings.append(PoolReading(at_s=time.time(), server_by_state={s: int(n) for s, n in rows},
                                                     **pool))
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - reported through check()
            self._error = exc
        finally:
            if conn is not None:
                conn.close()
