"""The embedded local stack: PostgreSQL, the service under test, nginx — real processes.

``local_stack(config)`` starts them inside out, each waiting for real readiness, and stops them
outside in (``contextlib.ExitStack``), also when start-up fails half-way or Ctrl-C arrives.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ..deployment import EVERYTHING, Capability, LogSource, ReadBack
from ..retry_policy import RetryPolicy
from .binaries import find_nginx, find_postgres
from .http import Endpoint
from .leftovers import sweep
from .ports import LOOPBACK
from .postgres import PostgresCluster, PostgresConfig
from .process import ManagedProcess
from .proxy import NginxProxy, ProxyConfig, Reload
from .rollout import Restart, Rollout, restart_replica
from .service import Service, ServiceConfig, Termination

__all__ = [
    "LocalStack", "ManagedProcess", "NginxProxy", "PostgresCluster", "PostgresConfig",
    "ProxyConfig", "Reload", "Restart", "Rollout", "Service", "ServiceConfig", "StackConfig", "Termination",
    "local_stack", "restart_replica",
]

#: PostgreSQL settings a drill's findings report as the server ran them (``SHOW``).
POSTGRES_READ_BACK = (
    "server_version", "max_connections", "superuser_reserved_connections", "statement_timeout",
    "lock_timeout", "idle_in_transaction_session_timeout", "client_connection_check_interval",
)


#: Replicas a local stack may run: each is a Gunicorn master with its workers, on two cores.
MAX_REPLICAS = 8


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """One configuration of the whole stack.

    ``replicas`` services (as pods: each its own Gunicorn with ``service.workers`` workers, on its
    own port) sit behind nginx, which picks one per request. Within one Gunicorn the kernel hands
    each kept-alive proxy connection to one worker for good, so a few long-lived connections can
    leave a worker idle while another queues; across replicas the proxy spreads every request.
    """

    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    replicas: int = 1
    #: How the drill's own client retries: the caller is a layer of the configuration under test
    #: (retries-backoff.md), so a falsifier can swap it like any setting. None: it never retries.
    client_retry: RetryPolicy | None = None
    #: How the orchestrator replaces a replica (preStop, grace period, endpoint lag, readiness):
    #: part of the configuration under test (graceful-shutdown.md), so a falsifier can swap it.
    #: None: the drill never restarts a replica.
    rollout: Rollout | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas={self.replicas}: must be 1–{MAX_REPLICAS}")


@dataclass
class LocalStack:
    """The running stack; clients talk to ``proxy.port`` on ``proxy.listen_host`` (127.0.0.1 unless told)."""

    config: StackConfig
    postgres: PostgresCluster
    services: list[Service]
    proxy: NginxProxy
    #: Seconds from the first process start until nginx passed a request through.
    ready_s: float

    #: The drill started every component: it may do anything (see drills.deployment.Capability).
    owned = True
    capabilities: frozenset[Capability] = EVERYTHING
    #: No caps on load: every request stays on this machine.
    max_rps: float | None = None
    max_duration_s: float | None = None

    @property
    def entry(self) -> Endpoint:
        """Where clients send requests: nginx."""
        return Endpoint(host=self.proxy.listen_host, port=self.proxy.port)

    @property
    def service(self) -> Service:
        """The first replica (they all run the same settings)."""
        return self.services[0]

    @property
    def metrics(self) -> tuple[Endpoint, ...]:
        """Each replica itself, past nginx, so that watching them adds nothing to the proxy's load."""
        return tuple(Endpoint(port=s.port) for s in self.services)

    @property
    def ledger_dirs(self) -> tuple[Path, ...]:
        return tuple(s.state_dir for s in self.services)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A superuser connection over the socket (uses a reserved slot when the app holds the rest)."""
        return self.postgres.admin_connect(**kwargs)

    def app_settings(self) -> dict[str, Any]:
        """The service's knobs as one of its workers reports them on /config."""
        app = self.service.effective_settings().get("app") or {}
        return {**app.get("app", {}), **app.get("database_session", {})}

    def component_versions(self) -> dict[str, str]:
        return {"postgresql": self.postgres.server_version(), "nginx": self.proxy.binary.version}

    def log(self, source: LogSource) -> str:
        if source == "postgres":
            return self.postgres.log_text()
        if source == "service":
            return "".join(s.log_text() for s in self.services)
        if source == "proxy-access":
            return self.proxy.access_log()
        return self.proxy.error_log()

    def service_pids(self) -> list[int]:
        """Every replica's Gunicorn master and its workers (those alive now)."""
        from .cpu import children

        return [pid for s in self.services if s.pid for pid in (s.pid, *children(s.pid))]

    def describe(self) -> str:
        return f"proxy on {self.proxy.listen_host}:{self.proxy.port}"

    def restart_replica(self, replica: int, rollout: Rollout, say: Callable[[str], None] | None = None) -> Restart:
        """Replace ``replica`` as a rolling deploy does: see :func:`drills.stack.rollout.restart_replica`."""
        return restart_replica(self, replica, rollout, say)

    def take_out(self, replica: int) -> Reload:
        """Drop ``replica`` from nginx's upstream and reload, as an ingress controller does when the
        endpoint leaves: returns once only the new configuration accepts requests."""
        port = self.services[replica].port
        if port not in self.proxy.upstream_ports:
            raise ValueError(f"replica {replica} is not in the upstream")
        return self.proxy.set_upstreams([p for p in self.proxy.upstream_ports if p != port])

    def put_back(self, replica: int) -> Reload:
        """Add ``replica`` to nginx's upstream again (in replica order) and reload."""
        ports = set(self.proxy.upstream_ports) | {self.services[replica].port}
        return self.proxy.set_upstreams([s.port for s in self.services if s.port in ports])

    def read_back(self) -> ReadBack:
        """Every component's effective settings, read from the component itself."""
        return {
            "postgres": self.postgres.show(*POSTGRES_READ_BACK),
            "service": {**self.service.effective_settings(), "replicas": len(self.services)},
            "nginx": self.proxy.effective_settings(),
        }


@contextlib.contextmanager
def local_stack(config: StackConfig, *, listen_host: str = LOOPBACK) -> Iterator[LocalStack]:
    """Start PostgreSQL, the service and nginx; yield them ready; stop all of them.

    nginx listens on ``listen_host`` only: loopback, or the address of the network namespace the
    stack runs in (``drills.stack.netns``); everything behind it stays on loopback."""
    find_postgres(), find_nginx()  # a missing binary fails here, before anything starts
    for line in sweep():
        logging.getLogger("drills").warning("removed leftovers of an earlier run that was killed: %s", line)
    started = time.monotonic()
    with contextlib.ExitStack() as parts:
        postgres = parts.enter_context(PostgresCluster(config.postgres))
        services = [parts.enter_context(Service(config.service, postgres.app_conninfo))
                    for _ in range(config.replicas)]
        proxy = parts.enter_context(NginxProxy(config.proxy, [s.port for s in services], listen_host=listen_host))
        yield LocalStack(config, postgres, services, proxy, time.monotonic() - started)
