"""The timeout-ladder drill's parameters: the ladder inside out, the anti-patterns, the stack, the measuring.

One class per framework (``notes/framework-drills.md``): :class:`Params` for FastAPI on Uvicorn
workers (the drill ``timeout-ladder``), :class:`FlaskParams` and :class:`DjangoParams` for the WSGI
apps on Gunicorn's ``sync`` and ``gthread`` workers (``timeout-ladder-flask``, ``-django``). What
they share is :class:`LadderParams`; ``framework`` names the framework and must be the class's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ...errors import ParameterError
from ...params import (
    DrillParams,
    require_between,
    require_choices,
    require_connections_fit,
    require_less,
    require_positive,
    split_names,
)
from ...recommended import RECOMMENDED
from ..recommended_stack import scaled_s, scaled_whole_s
from .ladder import Ladder

CONFIGURATIONS = ("recommended", "inverted", "heartbeat")
#: Flask and Django: the ladder, the inverted one and the heartbeat on ``sync`` workers, and the same
#: slow request on ``gthread`` workers (where Gunicorn's timeout is no rung: a verdict, measured).
WSGI_CONFIGURATIONS = ("recommended", "inverted", "heartbeat", "gthread")
#: The frameworks the drill runs for, and its name for each.
FRAMEWORKS = ("fastapi", "flask", "django")
DRILL = "timeout-ladder"
#: Gunicorn's master checks its workers' heartbeats once a second at most: a sync worker past its
#: ``timeout`` is aborted between ``timeout`` and ``timeout`` + this.
ARBITER_TICK_S = 1.0
#: Where a request's delay is placed: in the database (pg_sleep), in the app (an await), or split.
PLACEMENTS = ("db", "app", "split")
#: A heartbeat verdict rests on at least this many requests of each kind: one is an anecdote.
MIN_HEARTBEAT_REQUESTS = 3
#: The drill's own connections besides the pools: the admin and the pg_stat_activity sampler.
DRILL_CONNECTIONS = 2


def drill_name(framework: str) -> str:
    """The drill that runs the ladder for ``framework``: ``timeout-ladder`` or ``timeout-ladder-flask``."""
    return DRILL if framework == "fastapi" else f"{DRILL}-{framework}"


@dataclass(frozen=True, kw_only=True)
class LadderParams(DrillParams):
    """Knobs of the timeout-ladder drill every framework shares. Seconds unless the name says otherwise.

    The recommended ladder, the pool and nginx are the papers' production values
    (``drills.recommended``) scaled by ``DRILL_TIME_SCALE`` (production 5 s → drill 1 s), so the drill
    takes about a minute; the inverted ladder and the heartbeat are anti-patterns of their own.
    """

    #: The framework this class runs, and its configurations.
    FRAMEWORK: ClassVar[str] = "fastapi"
    CONFIGURATIONS: ClassVar[tuple[str, ...]] = CONFIGURATIONS

    #: The service under test: fastapi, flask or django (one drill each: ``drill_name``).
    framework: str = "fastapi"

    # The recommended ladder, inside out: 5 s, 8 s, 20 s, 65 s in production.
    statement_timeout_s: float = scaled_s(RECOMMENDED.postgres.statement_timeout_s)
    request_budget_s: float = scaled_s(RECOMMENDED.app.request_budget_s)
    proxy_read_timeout_s: float = scaled_s(RECOMMENDED.proxy.proxy_read_timeout_s)
    client_timeout_s: float = scaled_s(RECOMMENDED.client.timeout_s)
    # The inverted ladder: the proxy gives up before the database does.
    inverted_proxy_read_timeout_s: float = 1.0
    inverted_statement_timeout_s: float = 2.0
    inverted_request_budget_s: float = 3.0
    # Gunicorn's heartbeat (whole seconds, as Gunicorn takes it), an awaited query and a blocking call.
    gunicorn_timeout_s: int = 2
    heartbeat_block_s: float = 4.0
    heartbeat_repeats: int = MIN_HEARTBEAT_REQUESTS
    # The service and the proxy.
    workers: int = RECOMMENDED.gunicorn.workers
    pool_min_size: int = RECOMMENDED.app.pool_min_size
    pool_max_size: int = RECOMMENDED.app.pool_max_size
    pool_timeout_s: float = scaled_s(RECOMMENDED.app.pool_timeout_s)
    gunicorn_keepalive_s: int = scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s)
    gunicorn_graceful_timeout_s: int = scaled_whole_s(RECOMMENDED.gunicorn.graceful_timeout_s)
    proxy_upstream_keepalive_timeout_s: float = scaled_s(RECOMMENDED.proxy.upstream_keepalive_timeout_s)
    proxy_connect_timeout_s: float = scaled_s(RECOMMENDED.proxy.proxy_connect_timeout_s)
    max_connections: int = 20
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    repeats: int = 2
    concurrency: int = 4
    sample_interval_s: float = 0.02
    tolerance_ms: float = 50.0
    tolerance_pct: float = 5.0

    def check(self) -> None:
        require_choices("framework", [self.framework], FRAMEWORKS)
        if self.framework != self.FRAMEWORK:
            raise ParameterError("framework", self.framework,
                                 f"{drill_name(self.FRAMEWORK)} runs {self.FRAMEWORK}; run {drill_name(self.framework)} "
                                 f"(drills run {DRILL} -p framework={self.framework} does)")
        for name in ("statement_timeout_s", "request_budget_s", "proxy_read_timeout_s", "client_timeout_s",
                     "inverted_proxy_read_timeout_s", "inverted_statement_timeout_s",
                     "inverted_request_budget_s", "heartbeat_block_s",
                     "pool_timeout_s", "proxy_upstream_keepalive_timeout_s", "proxy_connect_timeout_s"):
            require_positive(name, getattr(self, name))
            require_between(name, getattr(self, name), 0.001, 600, "s")
        require_less("inverted_proxy_read_timeout_s", self.inverted_proxy_read_timeout_s,
                     "inverted_statement_timeout_s", self.inverted_statement_timeout_s,
                     "otherwise the inverted configuration is not inverted")
        require_between("gunicorn_timeout_s", self.gunicorn_timeout_s, 1, 600, "s")
        require_between("heartbeat_repeats", self.heartbeat_repeats, MIN_HEARTBEAT_REQUESTS, 20)
        if not self.heartbeat_block_s > self.gunicorn_timeout_s + 1:
            require_less("gunicorn_timeout_s + 1", self.gunicorn_timeout_s + 1, "heartbeat_block_s",
                         self.heartbeat_block_s, "Gunicorn's kill can land up to timeout + 1 s after the block starts")
        require_between("workers", self.workers, 1, 16)
        require_between("pool_min_size", self.pool_min_size, 0, 100)
        require_between("pool_max_size", self.pool_max_size, max(1, self.pool_min_size), 100)
        require_between("gunicorn_keepalive_s", self.gunicorn_keepalive_s, 0, 3600, "s")
        require_between("gunicorn_graceful_timeout_s", self.gunicorn_graceful_timeout_s, 1, 600, "s")
        require_between("max_connections", self.max_connections, 5, 10_000)
        # The drill's admin and sampler connections are counted too: the ladder's timings must
        # never include a wait for a server slot.
        require_connections_fit("pool_max_size", self.pool_max_size, workers=self.workers,
                                pool_max_size=self.pool_max_size, max_connections=self.max_connections,
                                extra=DRILL_CONNECTIONS)
        require_choices("configurations", self.selected_configurations(), self.CONFIGURATIONS)
        require_between("repeats", self.repeats, 1, 20)
        # Connections land on workers unevenly: one worker may get every concurrent request, so
        # concurrency above one pool's size would add pool waits to the timings.
        require_between("concurrency", self.concurrency, 1, self.pool_max_size)
        require_between("sample_interval_s", self.sample_interval_s, 0.005, 0.5, "s")
        require_between("tolerance_ms", self.tolerance_ms, 1, 10_000, "ms")
        require_between("tolerance_pct", self.tolerance_pct, 0, 100, "%")

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    def planned_load(self) -> tuple[float | None, float]:
        """On a target: the recommended grid, every request taking at most the client's timeout
        (the rate is capped as it is sent, by spacing request starts)."""
        requests = len(self.ladder("recommended").delays()) * len(PLACEMENTS) * self.repeats
        return None, math.ceil(requests / self.concurrency) * self.client_timeout_s

    def tolerance_s(self, expected_s: float) -> float:
        """max(tolerance_ms, tolerance_pct of the expected time), in seconds."""
        return max(self.tolerance_ms / 1000.0, expected_s * self.tolerance_pct / 100.0)

    def longest_heartbeat_s(self) -> float:
        """The longest request the heartbeat configuration sends."""
        return self.heartbeat_block_s

    def worker_timeout_s(self) -> float | None:
        """Gunicorn's ``timeout`` where it is a rung of the recommended ladder (sync workers); None
        where it bounds no request (Uvicorn workers)."""
        return None

    def ladder(self, configuration: str) -> Ladder:
        """The timeouts a configuration runs with. The heartbeat's (and gthread's) lie far enough
        out that only Gunicorn's heartbeat can cut its requests."""
        if configuration == "recommended":
            return Ladder("recommended", self.statement_timeout_s, self.request_budget_s,
                          self.proxy_read_timeout_s, self.client_timeout_s, self.worker_timeout_s())
        if configuration == "inverted":
            return Ladder("inverted", self.inverted_statement_timeout_s, self.inverted_request_budget_s,
                          self.inverted_proxy_read_timeout_s, self.client_timeout_s)
        longest = self.longest_heartbeat_s()
        return Ladder(configuration, longest + 2.0, longest + 2.5, longest + 3.0, longest + 4.0)


@dataclass(frozen=True, kw_only=True)
class Params(LadderParams):
    """The ladder for FastAPI on Uvicorn workers (the drill ``timeout-ladder``)."""

    # An awaited query longer than Gunicorn's timeout: it survives (the heartbeat is the event loop's).
    heartbeat_await_s: float = 3.0

    def check(self) -> None:
        super().check()
        require_positive("heartbeat_await_s", self.heartbeat_await_s)
        require_between("heartbeat_await_s", self.heartbeat_await_s, 0.001, 600, "s")
        if not self.heartbeat_await_s > self.gunicorn_timeout_s:
            require_less("gunicorn_timeout_s", self.gunicorn_timeout_s, "heartbeat_await_s",
                         self.heartbeat_await_s, "the awaited query must outlast Gunicorn's timeout")

    def longest_heartbeat_s(self) -> float:
        return max(self.heartbeat_await_s, self.heartbeat_block_s)


@dataclass(frozen=True, kw_only=True)
class FlaskParams(LadderParams):
    """The ladder for Flask on Gunicorn's ``sync`` workers, where Gunicorn's ``timeout`` is a rung
    (the drill ``timeout-ladder-flask``; Django's is the same with ``framework = "django"``)."""

    FRAMEWORK: ClassVar[str] = "flask"
    CONFIGURATIONS: ClassVar[tuple[str, ...]] = WSGI_CONFIGURATIONS

    framework: str = "flask"
    configurations: str = ",".join(WSGI_CONFIGURATIONS)
    # Gunicorn's timeout on sync workers, a rung between the request budget and the proxy (10 s in
    # production; whole seconds, as Gunicorn takes it).
    sync_timeout_s: int = scaled_whole_s(RECOMMENDED.wsgi.sync_timeout_s)
    # A query running when the heartbeat configuration's sync worker is aborted (psycopg cancels it).
    heartbeat_query_s: float = 4.0
    # Threads per worker in the gthread configuration.
    gthread_threads: int = RECOMMENDED.wsgi.gthread_threads
    # A sync worker serves one request at a time: more concurrent requests than workers would wait
    # in the listen queue, and that wait would be added to every timing the ladder predicts.
    concurrency: int = RECOMMENDED.gunicorn.workers

    def check(self) -> None:
        super().check()
        require_between("sync_timeout_s", self.sync_timeout_s, 1, 600, "s")
        require_less("request_budget_s", self.request_budget_s, "sync_timeout_s", self.sync_timeout_s,
                     "the request budget must end /work before Gunicorn aborts the worker")
        require_less("sync_timeout_s + 1", self.sync_timeout_s + ARBITER_TICK_S, "proxy_read_timeout_s",
                     self.proxy_read_timeout_s, "Gunicorn's abort can land up to timeout + 1 s after the request "
                     "arrived, and must reach the client before the proxy gives up")
        require_positive("heartbeat_query_s", self.heartbeat_query_s)
        require_between("heartbeat_query_s", self.heartbeat_query_s, 0.001, 600, "s")
        if not self.heartbeat_query_s > self.gunicorn_timeout_s + ARBITER_TICK_S:
            require_less("gunicorn_timeout_s + 1", self.gunicorn_timeout_s + ARBITER_TICK_S, "heartbeat_query_s",
                         self.heartbeat_query_s, "the query must still run when Gunicorn aborts the worker")
        require_between("gthread_threads", self.gthread_threads, 2, 64)
        require_between("concurrency", self.concurrency, 1, self.workers)
        if self.heartbeat_repeats > self.workers * self.gthread_threads:
            require_less("heartbeat_repeats", self.heartbeat_repeats, "workers × gthread_threads + 1",
                         self.workers * self.gthread_threads + 1, "the gthread requests are sent at once")

    def longest_heartbeat_s(self) -> float:
        return max(self.heartbeat_query_s, self.heartbeat_block_s)

    def worker_timeout_s(self) -> float | None:
        return float(self.sync_timeout_s)


@dataclass(frozen=True, kw_only=True)
class DjangoParams(FlaskParams):
    """The ladder for Django on Gunicorn's ``sync`` workers (the drill ``timeout-ladder-django``)."""

    FRAMEWORK: ClassVar[str] = "django"

    framework: str = "django"
