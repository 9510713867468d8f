"""The proxy-upstreams drill's parameters: the recommended nginx in front of two replicas, and the
three anti-patterns it is set against (keep-alive inversion, retry on timeout, ejection on one failure).

Production values come from ``drills.recommended`` (``RECOMMENDED.proxy``, ``.gunicorn``), durations
scaled by ``DRILL_TIME_SCALE`` like every drill's (nginx's keep-alive 60 s → 12 s, Gunicorn's 75 s →
15 s, ``fail_timeout`` 10 s → 2 s; the inverted keep-alive, Gunicorn's default 2 s, → 1 s in whole
seconds). nginx's read timeout is the drill's own (1 s): it is the anti-patterns' trigger, and the
slow GETs that cross it must be short.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ParameterError
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

CONFIGURATIONS = ("recommended", "keepalive-inverted", "retry-timeout", "max-fails-1")
#: nginx's upstream keep-alive cache (``keepalive 32``, the recommended size): a burst larger than
#: it would open connections nginx cannot keep.
UPSTREAM_KEEPALIVE = RECOMMENDED.proxy.upstream_keepalive
#: Gunicorn's own default ``keepalive`` (2 s), the inversion the paper warns of.
GUNICORN_DEFAULT_KEEPALIVE_S = 2
#: The drill's own connection (the stack's readiness and read-back) besides the pools.
DRILL_CONNECTIONS = 1


@dataclass(frozen=True, kw_only=True)
class Params(DrillParams):
    """Knobs of the proxy-upstreams drill. Seconds unless the name says otherwise."""

    # The fleet: replicas (each a Gunicorn with its workers) behind one nginx upstream.
    replicas: int = 2
    workers: int = 1
    pool_max_size: int = 2
    max_connections: int = 20
    # Keep-alive: recommended order (nginx closes idle upstream connections first) and the inversion.
    upstream_keepalive_timeout_s: float = scaled_s(RECOMMENDED.proxy.upstream_keepalive_timeout_s)
    gunicorn_keepalive_s: int = scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s)
    inverted_gunicorn_keepalive_s: int = scaled_whole_s(GUNICORN_DEFAULT_KEEPALIVE_S)
    #: At most this many bursts, fewer once keepalive_stop_errors closed connections were met: a
    #: burst misses the race about three times in four, so 24 miss it all with odds near 1 in 1,000.
    keepalive_bursts: int = 24
    keepalive_stop_errors: int = 3
    keepalive_burst_size: int = 16
    #: Each burst is sent this long after the backend's keep-alive expires on the previous burst's
    #: connections, swept over keepalive_sweep_ms (the race with the backend's close is a
    #: fraction of a millisecond wide on loopback).
    keepalive_aim_ms: float = 0.3
    keepalive_sweep_ms: float = 1.5
    # Retry on timeout: nginx's read timeout, a GET slower than it, the tries nginx may make.
    upstream_read_timeout_s: float = 1.0
    slow_work_s: float = 2.0
    slow_requests: int = 2
    next_upstream_tries: int = RECOMMENDED.proxy.proxy_next_upstream_tries
    # Ejection: the recommended max_fails, nginx's fail_timeout (whole seconds), probes after the slow requests.
    max_fails: int = RECOMMENDED.proxy.max_fails
    fail_timeout_s: int = scaled_whole_s(RECOMMENDED.proxy.fail_timeout_s)
    probes: int = 10
    probe_interval_s: float = 0.05
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)

    def check(self) -> None:
        require_between("replicas", self.replicas, 2, 4)  # retries and "no live upstreams" need two
        require_between("workers", self.workers, 1, 4)
        require_between("pool_max_size", self.pool_max_size, 1, 20)
        require_between("max_connections", self.max_connections, 5, 10_000)
        require_connections_fit("pool_max_size", self.pool_max_size, workers=self.replicas * self.workers,
                                pool_max_size=self.pool_max_size, max_connections=self.max_connections,
                                extra=DRILL_CONNECTIONS)
        require_between("upstream_keepalive_timeout_s", self.upstream_keepalive_timeout_s, 0.5, 3600, "s")
        require_between("gunicorn_keepalive_s", self.gunicorn_keepalive_s, 1, 3600, "s")
        require_between("inverted_gunicorn_keepalive_s", self.inverted_gunicorn_keepalive_s, 1, 30, "s")
        require_less("upstream_keepalive_timeout_s", self.upstream_keepalive_timeout_s, "gunicorn_keepalive_s",
                     self.gunicorn_keepalive_s, "the recommended order: nginx closes an idle upstream connection "
                     "before the backend does")
        # Inverted, nginx must still hold the connection when the backend closes it (and when the next burst comes).
        require_less("inverted_gunicorn_keepalive_s + 1", self.inverted_gunicorn_keepalive_s + 1,
                     "upstream_keepalive_timeout_s", self.upstream_keepalive_timeout_s,
                     "otherwise the keepalive-inverted configuration is not inverted")
        require_between("keepalive_bursts", self.keepalive_bursts, 3, 200)
        require_between("keepalive_stop_errors", self.keepalive_stop_errors, 1, 1000)
        require_between("keepalive_burst_size", self.keepalive_burst_size, 1, UPSTREAM_KEEPALIVE)
        require_between("keepalive_aim_ms", self.keepalive_aim_ms, -50, 50, "ms")
        require_between("keepalive_sweep_ms", self.keepalive_sweep_ms, 0, 50, "ms")
        require_between("upstream_read_timeout_s", self.upstream_read_timeout_s, 0.1, 60, "s")
        require_less("upstream_read_timeout_s + 0.2", self.upstream_read_timeout_s + 0.2, "slow_work_s", self.slow_work_s,
                     "the slow GET must outlast nginx's read timeout by more than the timer's slack")
        require_between("slow_work_s", self.slow_work_s, 0.1, 120, "s")
        require_between("slow_requests", self.slow_requests, 1, 10)
        # A retry goes to another replica: with more tries than replicas a GET would meet one twice.
        require_between("next_upstream_tries", self.next_upstream_tries, 2, self.replicas)
        # One timed-out request per replica must eject none: the recommended max_fails tolerates it,
        # and the retry measurement's timeouts (each slow GET fails once per try) too.
        require_between("max_fails", self.max_fails, 2, 100)
        if self.slow_requests * self.next_upstream_tries > (self.max_fails - 1) * self.replicas:
            raise ParameterError("slow_requests", self.slow_requests,
                                 f"slow_requests × next_upstream_tries must be ≤ (max_fails − 1) × replicas = "
                                 f"{(self.max_fails - 1) * self.replicas}, or the retries eject a replica")
        require_between("fail_timeout_s", self.fail_timeout_s, 1, 60, "s")
        require_between("probes", self.probes, 3, 100)
        require_between("probe_interval_s", self.probe_interval_s, 0.0, 1.0, "s")
        if not self.probes * self.probe_interval_s < self.fail_timeout_s:
            require_less("probes × probe_interval_s", self.probes * self.probe_interval_s, "fail_timeout_s",
                         self.fail_timeout_s, "every probe must fall inside the window an ejection lasts")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    @property
    def client_timeout_s(self) -> float:
        """The client's wait for a slow GET: every try's read timeout, and a second to spare."""
        return self.next_upstream_tries * self.upstream_read_timeout_s + 1.0

    @property
    def settle_s(self) -> float:
        """Until an ejection has lapsed: nginx keeps a failed server out while ``now − checked ≤
        fail_timeout`` in whole seconds, so up to fail_timeout + 1 s."""
        return self.fail_timeout_s + 1.1
