"""Prometheus metrics of the service, shared by all Gunicorn workers.

prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the harness) lets any
worker answer ``/metrics`` with the sum over all workers, so a scrape never shows one worker's
view. Pool gauges use ``livesum`` (dead workers drop out); pool counters are fed from
``pop_stats()`` deltas, so they keep counting across samples.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# Buckets in seconds, dense around the scaled-down timeouts the drills use and the usual SLOs.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)

REQUESTS = Counter("drills_http_requests", "HTTP requests answered, by route and status.", ["route", "status"])
LATENCY = Histogram(
    "drills_http_request_duration_seconds", "Time to answer, by route.", ["route"], buckets=LATENCY_BUCKETS
)
IN_FLIGHT = Gauge(
    "drills_http_requests_in_flight", "Requests being handled right now (all workers; /metrics not counted).",
    multiprocess_mode="livesum",
)
GAVE_UP = Counter(
    "drills_app_gave_up", "Requests the service gave up on, by the layer that gave up.", ["layer", "error"]
)
POOL_SIZE = Gauge("drills_pool_size", "Connections in the pools (idle, in use, opening).", multiprocess_mode="livesum")
POOL_AVAILABLE = Gauge("drills_pool_available", "Idle connections in the pools.", multiprocess_mode="livesum")
POOL_WAITING = Gauge("drills_pool_requests_waiting", "Requests waiting for a connection.", multiprocess_mode="livesum")
POOL_MAX = Gauge("drills_pool_max_size", "Sum of the pools' max_size.", multiprocess_mode="livesum")
POOL_REQUESTS = Counter("drills_pool_requests", "Connections requested from the pools.")
POOL_QUEUED = Counter("drills_pool_requests_queued", "Requests that had to wait for a connection.")
POOL_WAIT = Counter("drills_pool_wait_seconds", "Time queued requests waited for a connection.")
POOL_ERRORS = Counter("drills_pool_request_errors", "Requests that got PoolTimeout or TooManyRequests.")
POOL_CONNECT_ERRORS = Counter("drills_pool_connection_errors", "Failed attempts to open a server connection.")
POOL_CONNECTIONS_LOST = Counter("drills_pool_connections_lost", "Connections found broken.")


def record_pool_stats(stats: dict[str, int]) -> None:
    """Feed one ``pop_stats()`` result (gauges plus counter deltas) into the metrics."""
    POOL_SIZE.set(stats.get("pool_size", 0))
    POOL_AVAILABLE.set(stats.get("pool_available", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))
    POOL_MAX.set(stats.get("pool_max", 0))
    POOL_REQUESTS.inc(stats.get("requests_num", 0))
    POOL_QUEUED.inc(stats.get("requests_queued", 0))
    POOL_WAIT.inc(stats.get("requests_wait_ms", 0) / 1000.0)
    POOL_ERRORS.inc(stats.get("requests_errors", 0))
    POOL_CONNECT_ERRORS.inc(stats.get("connections_errors", 0))
    POOL_CONNECTIONS_LOST.inc(stats.get("connections_lost", 0))


def render_all_workers() -> bytes:
    """The Prometheus text exposition of every live worker's metrics."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)
