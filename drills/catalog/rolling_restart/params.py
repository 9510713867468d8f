"""The rolling-restart drill's parameters: two replicas behind nginx, replaced one by one under
steady load the way a Kubernetes rolling deploy replaces pods (graceful-shutdown.md).

Production values come from ``drills.recommended`` (``RECOMMENDED.kubernetes``, ``.gunicorn``,
``.proxy``), durations scaled by ``DRILL_TIME_SCALE`` (0.2) like every drill's: preStop 10 s → 2 s,
``graceful_timeout`` 20 s → 4 s, ``terminationGracePeriodSeconds`` 40 s → 8 s, the readiness probe's
period 5 s → 1 s, nginx's read timeout 20 s → 4 s. The endpoint lag (pod deleted → the proxy stops
sending) is not a setting; the drill models 5 s → 1 s, covered by the preStop sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...params import (
    DrillParams,
    require_between,
    require_choices,
    require_connections_fit,
    require_less,
    split_names,
)
from ...recommended import RECOMMENDED
from ..recommended_stack import scaled_s, scaled_whole_s

CONFIGURATIONS = ("recommended", "no-prestop", "keepalive-inverted")
#: Gunicorn's own default ``keepalive`` (2 s), the inversion the keep-alive race needs.
GUNICORN_DEFAULT_KEEPALIVE_S = 2
#: The drill's own connections besides the pools (readiness, read-back).
DRILL_CONNECTIONS = 2
#: The endpoint lag the drill models, production seconds: the endpoint controller, the watch and
#: ingress-nginx's one-second backend sync (FACTS-retries-shutdown §11).
ENDPOINT_LAG_PRODUCTION_S = 5.0


@dataclass(frozen=True, kw_only=True)
class Params(DrillParams):
    """Knobs of the rolling-restart drill. Seconds unless the name says otherwise."""

    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("load_rps",)

    # The fleet: replicas (each a Gunicorn with its workers) behind one nginx upstream.
    replicas: int = 2
    workers: int = 1
    pool_max_size: int = 2
    max_connections: int = 20
    # The orchestrator (Kubernetes), scaled.
    pre_stop_s: float = scaled_s(RECOMMENDED.kubernetes.pre_stop_sleep_s)
    termination_grace_s: float = scaled_s(RECOMMENDED.kubernetes.termination_grace_period_s)
    readiness_period_s: float = scaled_s(RECOMMENDED.kubernetes.readiness_period_s)
    endpoint_lag_s: float = scaled_s(ENDPOINT_LAG_PRODUCTION_S)
    # Gunicorn and nginx, scaled.
    graceful_timeout_s: int = scaled_whole_s(RECOMMENDED.gunicorn.graceful_timeout_s)
    gunicorn_keepalive_s: int = scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s)
    upstream_keepalive_timeout_s: float = scaled_s(RECOMMENDED.proxy.upstream_keepalive_timeout_s)
    read_timeout_s: float = scaled_s(RECOMMENDED.proxy.proxy_read_timeout_s)
    # The steady load of the rolling restart: GET and POST /inflight in turn, open loop, bounded.
    load_rps: float = 40.0
    load_max_in_flight: int = 16
    load_app_s: float = 0.02
    load_db_s: float = 0.005
    #: A no-prestop restart with fewer requests sent between its SIGTERM (+0.2 s) and the proxy's
    #: drop did not test the gap: its hypothesis is inconclusive then.
    min_gap_requests: int = 5
    # The drain: requests in flight across SIGTERM, ending this long after it ("within"), or this
    # long after graceful_timeout ("beyond"); drain_repeats rounds of a GET and a POST each.
    drain_repeats: int = 2
    drain_within_s: float = 1.5
    drain_beyond_s: float = 1.5
    #: Pause between two restarts.
    between_s: float = 0.5
    # The keep-alive race (proxy-upstreams' procedure, with POSTs): bursts of POSTs, each released as
    # the backend's inverted keep-alive expires on the previous burst's connections (aimed
    # keepalive_aim_ms after it, swept over keepalive_sweep_ms); at most keepalive_bursts, fewer once
    # keepalive_stop_errors POSTs met a closed connection.
    inverted_gunicorn_keepalive_s: int = scaled_whole_s(GUNICORN_DEFAULT_KEEPALIVE_S)
    keepalive_bursts: int = 24
    keepalive_burst_size: int = 16
    keepalive_stop_errors: int = 3
    keepalive_aim_ms: float = 0.3
    keepalive_sweep_ms: float = 1.5
    configurations: str = ",".join(CONFIGURATIONS)

    def check(self) -> None:
        require_between("replicas", self.replicas, 2, 4)  # one must serve while another restarts
        require_between("workers", self.workers, 1, 4)
        require_between("pool_max_size", self.pool_max_size, 1, 20)
        require_between("max_connections", self.max_connections, 5, 10_000)
        # A replica restarting has two generations of pools open at once at most (the old one drains).
        require_connections_fit("pool_max_size", self.pool_max_size, workers=(self.replicas + 1) * self.workers,
                                pool_max_size=self.pool_max_size, max_connections=self.max_connections,
                                extra=DRILL_CONNECTIONS)
        require_between("pre_stop_s", self.pre_stop_s, 0.5, 60, "s")
        require_between("graceful_timeout_s", self.graceful_timeout_s, 1, 120, "s")
        require_between("termination_grace_s", self.termination_grace_s, 1, 300, "s")
        require_between("readiness_period_s", self.readiness_period_s, 0.1, 30, "s")
        require_between("endpoint_lag_s", self.endpoint_lag_s, 0.3, 60, "s")
        require_less("pre_stop_s + graceful_timeout_s", self.pre_stop_s + self.graceful_timeout_s + 0.0,
                     "termination_grace_s + 0.001", self.termination_grace_s + 0.001,
                     "the recommended arithmetic: preStop + graceful_timeout ≤ terminationGracePeriodSeconds")
        require_less("endpoint_lag_s + 0.5", self.endpoint_lag_s + 0.5, "pre_stop_s + 0.001", self.pre_stop_s + 0.001,
                     "the preStop sleep must cover the proxy's reload, or the recommended stack is not recommended")
        require_between("gunicorn_keepalive_s", self.gunicorn_keepalive_s, 1, 3600, "s")
        require_less("upstream_keepalive_timeout_s", self.upstream_keepalive_timeout_s, "gunicorn_keepalive_s",
                     self.gunicorn_keepalive_s, "nginx must close an idle upstream connection before the backend does")
        require_between("read_timeout_s", self.read_timeout_s, 0.5, 120, "s")
        require_between("load_rps", self.load_rps, 1, 400, "req/s")
        require_between("load_max_in_flight", self.load_max_in_flight, 1, 64)
        require_between("load_app_s", self.load_app_s, 0, 1, "s")
        require_between("load_db_s", self.load_db_s, 0, 1, "s")
        require_less("load_rps × (load_app_s + load_db_s + 0.05)",
                     self.load_rps * (self.load_app_s + self.load_db_s + 0.05), "load_max_in_flight",
                     self.load_max_in_flight, "the bounded client must keep up with its own schedule")
        require_between("min_gap_requests", self.min_gap_requests, 1, 1000)
        gap_requests = self.load_rps * (self.endpoint_lag_s - 0.2)
        require_less("min_gap_requests", self.min_gap_requests, "load_rps × (endpoint_lag_s − 0.2) / 2",
                     gap_requests / 2, "the no-prestop gap must be able to hold that many requests")
        require_between("drain_repeats", self.drain_repeats, 1, 10)
        require_between("drain_within_s", self.drain_within_s, 0.2, 60, "s")
        require_less("drain_within_s + 0.5", self.drain_within_s + 0.5, "graceful_timeout_s", self.graceful_timeout_s,
                     "a 'within' request must end inside graceful_timeout, with room for the timer")
        require_less("pre_stop_s + drain_within_s + 0.3", self.pre_stop_s + self.drain_within_s + 0.3,
                     "read_timeout_s", self.read_timeout_s,
                     "a 'within' request goes through nginx and must end before nginx's read timeout")
        require_between("drain_beyond_s", self.drain_beyond_s, 0.5, 60, "s")
        require_between("between_s", self.between_s, 0, 10, "s")
        require_between("inverted_gunicorn_keepalive_s", self.inverted_gunicorn_keepalive_s, 1, 30, "s")
        require_less("inverted_gunicorn_keepalive_s + 1", self.inverted_gunicorn_keepalive_s + 1,
                     "upstream_keepalive_timeout_s", self.upstream_keepalive_timeout_s,
                     "otherwise the keepalive-inverted configuration is not inverted")
        require_between("keepalive_bursts", self.keepalive_bursts, 3, 200)
        require_between("keepalive_burst_size", self.keepalive_burst_size, 1, RECOMMENDED.proxy.upstream_keepalive)
        require_between("keepalive_stop_errors", self.keepalive_stop_errors, 1, 1000)
        require_between("keepalive_aim_ms", self.keepalive_aim_ms, -50, 50, "ms")
        require_between("keepalive_sweep_ms", self.keepalive_sweep_ms, 0, 50, "ms")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    @property
    def client_timeout_s(self) -> float:
        """The steady client's wait: every nginx try's read timeout, and a second to spare."""
        return RECOMMENDED.proxy.proxy_next_upstream_tries * self.read_timeout_s + 1.0

    @property
    def within_length_s(self) -> float:
        """How long a 'within' request lasts when sent at the deletion: to SIGTERM, then drain_within_s."""
        return self.pre_stop_s + self.drain_within_s

    @property
    def beyond_length_s(self) -> float:
        """How long a 'beyond' request lasts: to SIGTERM, graceful_timeout, then drain_beyond_s."""
        return self.pre_stop_s + self.graceful_timeout_s + self.drain_beyond_s
