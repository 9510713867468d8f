"""The timeout-ladder drill's parameters: the ladder inside out, the anti-patterns, the stack, the measuring."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
#: Where a request's delay is placed: in the database (pg_sleep), in the app (an await), or split.
PLACEMENTS = ("db", "app", "split")
#: A heartbeat verdict rests on at least this many requests of each kind: one is an anecdote.
MIN_HEARTBEAT_REQUESTS = 3
#: The drill's own connections besides the pools: the admin and the pg_stat_activity sampler.
DRILL_CONNECTIONS = 2


@dataclass(frozen=True, kw_only=True)
class Params(DrillParams):
    """Knobs of the timeout-ladder drill. Seconds unless the name says otherwise.

    The recommended ladder, the pool and nginx are the papers' production values
    (``drills.recommended``) scaled by ``DRILL_TIME_SCALE`` (production 5 s → drill 1 s), so the drill
    takes about a minute; the inverted ladder and the heartbeat are anti-patterns of their own.
    """

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
    heartbeat_await_s: float = 3.0
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
        for name in ("statement_timeout_s", "request_budget_s", "proxy_read_timeout_s", "client_timeout_s",
                     "inverted_proxy_read_timeout_s", "inverted_statement_timeout_s",
                     "inverted_request_budget_s", "heartbeat_await_s", "heartbeat_block_s",
                     "pool_timeout_s", "proxy_upstream_keepalive_timeout_s", "proxy_connect_timeout_s"):
            require_positive(name, getattr(self, name))
            require_between(name, getattr(self, name), 0.001, 600, "s")
        require_less("inverted_proxy_read_timeout_s", self.inverted_proxy_read_timeout_s,
                     "inverted_statement_timeout_s", self.inverted_statement_timeout_s,
                     "otherwise the inverted configuration is not inverted")
        require_between("gunicorn_timeout_s", self.gunicorn_timeout_s, 1, 600, "s")
        require_between("heartbeat_repeats", self.heartbeat_repeats, MIN_HEARTBEAT_REQUESTS, 20)
        if not self.heartbeat_await_s > self.gunicorn_timeout_s:
            require_less("gunicorn_timeout_s", self.gunicorn_timeout_s, "heartbeat_await_s",
                         self.heartbeat_await_s, "the awaited query must outlast Gunicorn's timeout")
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
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
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

    def ladder(self, configuration: str) -> Ladder:
        """The timeouts a configuration runs with. The heartbeat's lie far enough out that only
        Gunicorn's heartbeat can cut its requests."""
        if configuration == "recommended":
            return Ladder("recommended", self.statement_timeout_s, self.request_budget_s,
                          self.proxy_read_timeout_s, self.client_timeout_s)
        if configuration == "inverted":
            return Ladder("inverted", self.inverted_statement_timeout_s, self.inverted_request_budget_s,
                          self.inverted_proxy_read_timeout_s, self.client_timeout_s)
        longest = max(self.heartbeat_await_s, self.heartbeat_block_s)
        return Ladder("heartbeat", longest + 2.0, longest + 2.5, longest + 3.0, longest + 4.0)
