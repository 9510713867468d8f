"""The papers' recommended production settings, in one place.

Every value here is what ``papers/*.md`` recommend for production, in their snippets and tables;
``drills check-papers`` (``drills.papercheck.recommended``) extracts the same settings from the
papers' code blocks and from ``deploy/k8s/`` and fails on any that differ from this module, and on
two documents recommending different values for one setting.

Where the papers themselves disagree, the value is a :class:`Disputed`: the candidates and who
says what. ``check-papers`` reports every disputed setting until a planner settles it here (and in
the papers). Nothing is picked silently.

These are *production* values. The drills do not run them yet: their stacks scale durations down so a
run takes about a minute (their own ``Params`` hold the scaled values). Field names carry their
unit (``_s`` seconds); counts and names have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Generic, TypeVar

T = TypeVar("T", int, float, str)


@dataclass(frozen=True)
class Disputed(Generic[T]):
    """A setting the papers recommend differently; open until the planners decide."""

    #: Every value some document recommends.
    values: tuple[T, ...]
    #: Who says which, and why it matters (shown by check-papers).
    note: str


Value = int | float | str
Setting = int | float | str | Disputed[int] | Disputed[float] | Disputed[str]


@dataclass(frozen=True)
class PostgresRole:
    """``ALTER ROLE app SET …`` (timeout-ladders.md, connection-pools.md; PostgreSQL reads a bare
    number of these as milliseconds, so the papers write units)."""

    statement_timeout_s: float = 5.0
    lock_timeout_s: float = 2.0
    idle_in_transaction_session_timeout_s: float = 10.0
    #: PostgreSQL 14+, Linux: notices a vanished client during a long query.
    client_connection_check_interval_s: float = 2.0


@dataclass(frozen=True)
class Libpq:
    """The app's conninfo (timeout-ladders.md): a dead server fails a connection in about 8 s."""

    #: Integer seconds, per host.
    connect_timeout_s: int = 3
    keepalives_idle_s: int = 2
    keepalives_interval_s: int = 2
    #: Written in milliseconds in the conninfo (8000).
    tcp_user_timeout_s: float = 8.0


@dataclass(frozen=True)
class App:
    """The service: its request budget and each worker's psycopg_pool ``AsyncConnectionPool``."""

    #: ``asyncio.timeout``: 2 s pool wait + 5 s statement + 1 s of Python.
    request_budget_s: float = 8.0
    pool_timeout_s: float = 2.0
    #: A fixed pool (``min_size = max_size``): the budget counts ``max_size`` anyway, and a pool that
    #: grows opens its connections one at a time, under load.
    pool_min_size: int = 4
    pool_max_size: int = 4
    #: ⌈16 ÷ 4⌉ holds of worst wait for an admitted request.
    pool_max_waiting: int = 16
    #: ``pool.open(wait=True, timeout=…)``: a worker whose pool cannot fill fails to boot.
    pool_open_timeout_s: float = 10.0
    #: ``check=AsyncConnectionPool.check_connection``: a connection is tested at checkout.
    pool_check: str = "check_connection"


@dataclass(frozen=True)
class Gunicorn:
    """``gunicorn.conf.py`` (Gunicorn reads these as whole seconds)."""

    #: Per pod. Few workers per pod and more pods: the balancer spreads requests across pods, while
    #: one pod's kept-alive proxy connections stay on the worker that accepted them.
    workers: int = 2
    worker_class: str = "uvicorn_worker.UvicornWorker"
    #: Longer than every proxy's idle timeout in front (ALB 60 s, ingress upstream 60 s).
    keepalive_s: int = 75
    #: The heartbeat, not a request timeout.
    timeout_s: int = 30
    #: > the 8 s budget + up to 10 s of psycopg cancelling on a dead server.
    graceful_timeout_s: int = 20


@dataclass(frozen=True)
class Wsgi:
    """Flask and Django on Gunicorn (FACTS-wsgi): the worker class and the timeout that is a rung of
    the ladder there (``notes/framework-drills.md``)."""

    #: The class whose ``timeout`` bounds a request: Gunicorn aborts a ``sync`` worker mid-request
    #: (its 500, the query cancelled); a ``gthread`` worker's main thread keeps reporting in.
    worker_class: str = "sync"
    #: Gunicorn ``timeout`` for sync workers, a rung: request budget 8 s < 10 s (the kill lands up to
    #: 1 s later, at the master's next pass) < proxy read timeout 20 s.
    sync_timeout_s: int = 10
    #: Threads per ``gthread`` worker, where users run gthread.
    gthread_threads: int = 4


@dataclass(frozen=True)
class Proxy:
    """nginx in front of the service: plain nginx directives and ingress-nginx's annotations and
    ConfigMap keys for the same settings (nginx reads a bare number as seconds; ingress-nginx's
    annotations take integer seconds only)."""

    proxy_connect_timeout_s: float = 5.0
    #: > budget 8 s + 10 s psycopg cancel (timeout-ladders.md, after the fact-check).
    proxy_read_timeout_s: float = 20.0
    proxy_send_timeout_s: float = 20.0
    #: Never ``timeout``: a slow request is never run twice.
    proxy_next_upstream: str = "error"
    proxy_next_upstream_tries: int = 2
    proxy_http_version: str = "1.1"
    #: Plain nginx only: ingress-nginx balances in Lua and never ejects a pod.
    max_fails: int = 3
    fail_timeout_s: float = 10.0
    #: Idle upstream connections kept per worker (``keepalive`` in ``upstream``).
    upstream_keepalive: int = 32
    #: < Gunicorn's keepalive 75 s (``keepalive_timeout`` in ``upstream``; ingress-nginx
    #: ``upstream-keepalive-timeout``).
    upstream_keepalive_timeout_s: float = 60.0
    #: Client side, > the ALB's idle timeout 60 s (``keepalive_timeout`` in ``server``; ingress-nginx
    #: ``keep-alive``).
    client_keepalive_timeout_s: float = 75.0


@dataclass(frozen=True)
class Kubernetes:
    """The Deployment, its probes and the HorizontalPodAutoscaler."""

    #: preStop 10 s + graceful_timeout 20 s + 10 s margin.
    termination_grace_period_s: int = 40
    pre_stop_sleep_s: int = 10
    readiness_path: str = "/readyz"
    readiness_period_s: int = 5
    readiness_timeout_s: int = 2
    readiness_failure_threshold: int = 2
    #: The service's liveness route: no database, so a saturated pool does not restart pods.
    liveness_path: str = "/healthz"
    liveness_period_s: int = 10
    liveness_timeout_s: int = 2
    liveness_failure_threshold: int = 3
    max_surge: int = 1
    #: Pods that carry the peak's ramp during one autoscaler reaction (load-testing.md, Pattern D).
    hpa_min_replicas: int = 4
    hpa_max_replicas: int = 8
    #: ``type/name`` of the HPA's metric.
    #: The rate each pod receives: a CPU target never fires on a pool-bound service, and an in-flight
    #: target fires exactly when the database is the bottleneck.
    hpa_metric: str = "pods/http_requests_received_per_second"


@dataclass(frozen=True)
class Alb:
    """An ALB straight to the pods (AWS Load Balancer Controller annotations)."""

    idle_timeout_s: int = 60
    healthcheck_path: str = "/readyz"
    #: Just above the longest request (8 s budget + up to 10 s of psycopg's cancel wait), and within
    #: the pod's 40 s grace period; AWS's default is 300 s.
    deregistration_delay_s: int = 30


@dataclass(frozen=True)
class Client:
    """The caller at the top of the ladder."""

    timeout_s: float = 65.0


@dataclass(frozen=True)
class Retry:
    """retries-backoff.md: each kind of failure is retried at one layer only, a few times, within a
    budget, after a fully jittered backoff. The HTTP caller retries connect errors and 429/502/503;
    the app re-runs a whole transaction after 40001/40P01; nginx retries only what never reached the
    service (``Proxy.proxy_next_upstream``)."""

    #: Attempts per request at the layer that retries, the first included (urllib3 ``Retry(total=2)``,
    #: tenacity ``stop_after_attempt(3)``); the SRE book's "up to three attempts".
    attempts: int = 3
    #: Retries add at most this share to first attempts (the SRE book's 10 % per client): every
    #: request earns this many tokens, every retry spends one.
    budget_ratio: float = 0.1
    #: The bucket's size (and its start): retries a quiet client may spend at once.
    budget_burst: int = 10
    #: ``uniform(0, min(cap, base × 2^(retry − 1)))`` (Brooker's "Full Jitter").
    jitter: str = "full"
    #: An HTTP caller's backoff; a Retry-After is waited out first, and one above the cap is an answer.
    client_backoff_base_s: float = 1.0
    client_backoff_cap_s: float = 20.0
    #: The app re-running a transaction: all three attempts fit the 8 s request budget.
    transaction_backoff_base_s: float = 0.05
    transaction_backoff_cap_s: float = 1.0


@dataclass(frozen=True)
class Recommended:
    """Every group; ``RECOMMENDED.flat()`` names each setting ``group.field``."""

    postgres: PostgresRole = field(default_factory=PostgresRole)
    libpq: Libpq = field(default_factory=Libpq)
    app: App = field(default_factory=App)
    gunicorn: Gunicorn = field(default_factory=Gunicorn)
    wsgi: Wsgi = field(default_factory=Wsgi)
    proxy: Proxy = field(default_factory=Proxy)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    alb: Alb = field(default_factory=Alb)
    client: Client = field(default_factory=Client)
    retry: Retry = field(default_factory=Retry)

    def flat(self) -> dict[str, Setting]:
        """``{"proxy.proxy_read_timeout_s": 20.0, …}``, in declaration order."""
        out: dict[str, Setting] = {}
        for group in fields(self):
            section = getattr(self, group.name)
            for item in fields(section):
                out[f"{group.name}.{item.name}"] = getattr(section, item.name)
        return out

    def disputed(self) -> dict[str, Disputed[int] | Disputed[float] | Disputed[str]]:
        return {key: value for key, value in self.flat().items() if isinstance(value, Disputed)}


RECOMMENDED = Recommended()
