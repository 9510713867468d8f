"""The service knobs the load drills (pool-exhaustion, load-capacity) share, and their arithmetic."""

from __future__ import annotations

import dataclasses

from ..errors import ParameterError
from ..params import DrillParams, require_between, require_connections_fit
from ..recommended import RECOMMENDED
from ..stack import MAX_REPLICAS
from .recommended_stack import LOAD_DRILL_TIME_SCALE, scaled_s


@dataclasses.dataclass(frozen=True, kw_only=True)
class PooledServiceParams(DrillParams):
    """The service knobs the load drills share: an endpoint that holds a pooled connection for
    ``hold_s``, behind nginx. Seconds unless the name says otherwise."""

    hold_s: float = 0.1
    #: Every Gunicorn worker behind the proxy (each with its own pool): replicas × workers_per_replica.
    workers: int = 2
    #: Gunicorn workers in each replica of the service. Each replica is its own Gunicorn behind
    #: nginx, as pods behind a load balancer: nginx picks a replica per request, while within one
    #: Gunicorn the kernel hands each kept-alive proxy connection to one worker for good (measured:
    #: 242 and 607 requests on two workers in 15 s), which left one pool idle while the other queued.
    workers_per_replica: int = 1
    pool_max_size: int = 4
    #: The papers' pool wait and nginx read timeout, scaled by the load drills' factor (2 s → 1 s,
    #: 20 s → 10 s): the pool answers its 503 long before nginx would give up.
    pool_timeout_s: float = scaled_s(RECOMMENDED.app.pool_timeout_s, LOAD_DRILL_TIME_SCALE)
    proxy_read_timeout_s: float = scaled_s(RECOMMENDED.proxy.proxy_read_timeout_s, LOAD_DRILL_TIME_SCALE)
    max_connections: int = 20

    def check_service(self) -> None:
        require_between("hold_s", self.hold_s, 0.005, 5.0, "s")
        require_between("workers", self.workers, 1, 16)
        require_between("workers_per_replica", self.workers_per_replica, 1, 16)
        if self.workers % self.workers_per_replica:
            raise ParameterError("workers", self.workers,
                                 f"must be a multiple of workers_per_replica={self.workers_per_replica}")
        if not self.target_url and self.replicas > MAX_REPLICAS:
            raise ParameterError("workers", self.workers,
                                 f"makes {self.replicas} replicas of {self.workers_per_replica} worker(s); the local "
                                 f"stack runs at most {MAX_REPLICAS}: raise workers_per_replica")
        require_between("pool_max_size", self.pool_max_size, 1, 100)
        require_between("pool_timeout_s", self.pool_timeout_s, 0.01, 60, "s")
        require_between("proxy_read_timeout_s", self.proxy_read_timeout_s, 0.01, 600, "s")
        require_between("max_connections", self.max_connections, 8, 10_000)

    def check_budget(self) -> None:
        """The recommended sizing must fit the server: the oversubscribed one is a configuration of its own."""
        require_connections_fit("pool_max_size", self.pool_max_size, workers=self.workers,
                                pool_max_size=self.pool_max_size, max_connections=self.max_connections,
                                why="that is the oversubscribed configuration; the recommended one must fit")

    @property
    def replicas(self) -> int:
        """Replicas of the service behind the proxy, each a Gunicorn with workers_per_replica workers."""
        return self.workers // self.workers_per_replica

    @property
    def slots(self) -> int:
        """Connections the service can hold at once: workers × pool_max_size."""
        return self.workers * self.pool_max_size

    @property
    def capacity_rps(self) -> float:
        """Little's law: at most slots ÷ hold time requests per second."""
        return self.slots / self.hold_s
