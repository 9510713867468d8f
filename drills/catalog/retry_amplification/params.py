"""The retry-amplification drill's parameters: three replicas behind nginx, the recommended retry
policy set against every layer retrying, and a storm with and without a retry budget.

The retry policy's production values come from ``RECOMMENDED.retry`` (3 attempts, a 10 % budget with
a burst of 10, full jitter; an HTTP caller backs off from 1 s up to 20 s, a transaction from 50 ms
up to 1 s), durations scaled by ``DRILL_TIME_SCALE`` (0.2) like the timeout ladder's. The fault's
timings (statement timeout, the slow window) are the drill's own: they trigger the retries, and must
be short for the layers' product of attempts to fit in seconds.
"""

from __future__ import annotations

import math
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
from ..recommended_stack import scaled_s

CONFIGURATIONS = ("recommended", "naive", "budget", "no-budget")
#: The drill's own connections besides the pools: readiness, read-back, the fault switch, counting.
DRILL_CONNECTIONS = 2


@dataclass(frozen=True, kw_only=True)
class Params(DrillParams):
    """Knobs of the retry-amplification drill. Seconds unless the name says otherwise."""

    # The fleet: replicas (each a Gunicorn with one worker) behind one nginx upstream.
    replicas: int = 3
    workers: int = 1
    pool_max_size: int = 2
    max_connections: int = 30
    # The retry policy (recommended), from RECOMMENDED.retry, backoffs scaled.
    attempts: int = RECOMMENDED.retry.attempts
    budget_ratio: float = RECOMMENDED.retry.budget_ratio
    budget_burst: int = RECOMMENDED.retry.budget_burst
    client_backoff_base_s: float = scaled_s(RECOMMENDED.retry.client_backoff_base_s)
    client_backoff_cap_s: float = scaled_s(RECOMMENDED.retry.client_backoff_cap_s)
    transaction_backoff_base_s: float = scaled_s(RECOMMENDED.retry.transaction_backoff_base_s)
    transaction_backoff_cap_s: float = scaled_s(RECOMMENDED.retry.transaction_backoff_cap_s)
    next_upstream_tries: int = RECOMMENDED.proxy.proxy_next_upstream_tries
    # The naive layers: each retries everything this often, the client after a fixed wait.
    naive_client_attempts: int = 3
    naive_nginx_tries: int = 3
    naive_app_attempts: int = 3
    naive_client_backoff_s: float = 0.2
    # The fault: every statement sleeps fault_delay_s, cancelled at statement_timeout_s (57014); the
    # drill's own, shorter than the paper's 5 s → 1 s, so that 27 attempts fit in seconds.
    statement_timeout_s: float = 0.5
    fault_delay_s: float = 1.5
    lock_timeout_s: float = scaled_s(RECOMMENDED.postgres.lock_timeout_s)
    deadlock_timeout_s: float = 0.2
    # Amplification: GETs while the database is slow.
    amplify_requests: int = 4
    amplify_read_timeout_s: float = 2.5
    # Jitter: clients failing at once, then retrying; arrivals binned over the first backoff window.
    jitter_clients: int = 64
    jitter_bins: int = 10
    jitter_max_peak_to_mean: float = 2.5
    jitter_min_wave: float = 6.0
    # Resends by nginx (a worker killed mid-request) and idempotency keys.
    resend_requests: int = 2
    key_requests: int = 3
    key_hold_s: float = 0.6
    # Conflicts: concurrent read-modify-writes (40001) and opposite lock orders (40P01).
    conflict_pairs: int = 6
    deadlock_pairs: int = 2
    conflict_hold_s: float = 0.1
    # The storm: one caller sending storm_rate first attempts/s to one replica; the database slows
    # (storm_hold_s → storm_fault_hold_s) for storm_fault_s after storm_pre_s; storm_post_s after it.
    storm_rate: float = 20.0
    storm_hold_s: float = 0.05
    storm_fault_hold_s: float = 0.2
    storm_client_timeout_s: float = 1.0
    storm_backoff_base_s: float = 0.1
    storm_backoff_cap_s: float = 0.4
    storm_pre_s: float = 4.0
    storm_fault_s: float = 4.0
    storm_post_s: float = 8.0
    #: Recovered: goodput ≥ recovery_goodput_pct of the first attempts for recovery_hold_s running.
    recovery_goodput_pct: float = 90.0
    recovery_hold_s: float = 2.0
    recovery_limit_s: float = 4.0
    # Measurement.
    tolerance_ms: float = 50.0
    configurations: str = ",".join(CONFIGURATIONS)

    def check(self) -> None:
        require_between("replicas", self.replicas, 2, 4)
        require_between("workers", self.workers, 1, 4)
        require_between("pool_max_size", self.pool_max_size, 1, 20)
        require_between("max_connections", self.max_connections, 5, 10_000)
        require_connections_fit("pool_max_size", self.pool_max_size, workers=self.replicas * self.workers,
                                pool_max_size=self.pool_max_size, max_connections=self.max_connections,
                                extra=DRILL_CONNECTIONS)
        require_between("attempts", self.attempts, 2, 10)
        require_between("budget_ratio", self.budget_ratio, 0.01, 1.0)
        require_between("budget_burst", self.budget_burst, 0, 1000)
        for low, high in (("client_backoff_base_s", "client_backoff_cap_s"),
                          ("transaction_backoff_base_s", "transaction_backoff_cap_s"),
                          ("storm_backoff_base_s", "storm_backoff_cap_s")):
            require_between(low, getattr(self, low), 0.001, 60, "s")
            require_between(high, getattr(self, high), getattr(self, low), 600, "s")
        require_between("next_upstream_tries", self.next_upstream_tries, 1, self.replicas)
        for name in ("naive_client_attempts", "naive_app_attempts"):
            require_between(name, getattr(self, name), 2, 5)
        # A retry goes to another replica: with more tries than replicas a request would meet one twice.
        require_between("naive_nginx_tries", self.naive_nginx_tries, 2, self.replicas)
        require_between("naive_client_backoff_s", self.naive_client_backoff_s, 0.01, 10, "s")
        require_between("statement_timeout_s", self.statement_timeout_s, 0.05, 10, "s")
        require_less("statement_timeout_s + 0.2", self.statement_timeout_s + 0.2, "fault_delay_s", self.fault_delay_s,
                     "the slowed statement must be cancelled by statement_timeout, with room for the timer")
        require_between("lock_timeout_s", self.lock_timeout_s, 0.05, 10, "s")
        require_between("deadlock_timeout_s", self.deadlock_timeout_s, 0.01, 10, "s")
        # statement_timeout holds for every statement of the recommended stack: a lock wait must end
        # by lock_timeout (a key's repeat: 409), a deadlock by its detection (40P01), before it.
        require_less("lock_timeout_s + 0.05", self.lock_timeout_s + 0.05, "statement_timeout_s",
                     self.statement_timeout_s, "a lock wait must end at lock_timeout, not be cancelled as a slow statement")
        require_less("deadlock_timeout_s + 0.05", self.deadlock_timeout_s + 0.05, "lock_timeout_s",
                     self.lock_timeout_s, "a deadlock must be detected before lock_timeout ends either wait")
        require_between("amplify_requests", self.amplify_requests, 2, 32)
        # The naive app's attempts must all fit in one of nginx's read timeouts, or nginx cuts them.
        app_s = self.naive_app_attempts * self.statement_timeout_s + 0.5
        if not app_s < self.amplify_read_timeout_s:
            require_less("naive_app_attempts × statement_timeout_s + 0.5", app_s, "amplify_read_timeout_s",
                         self.amplify_read_timeout_s, "every app attempt must run before nginx's read timeout")
        require_between("amplify_read_timeout_s", self.amplify_read_timeout_s, 0.1, 60, "s")
        require_between("jitter_clients", self.jitter_clients, 5 * self.jitter_bins, 256)
        require_between("jitter_bins", self.jitter_bins, 4, 50)
        require_between("jitter_max_peak_to_mean", self.jitter_max_peak_to_mean, 1.0, self.jitter_bins)
        require_between("jitter_min_wave", self.jitter_min_wave, self.jitter_max_peak_to_mean, self.jitter_bins)
        require_between("resend_requests", self.resend_requests, 1, 10)
        require_between("key_requests", self.key_requests, 1, 10)
        require_less("lock_timeout_s + 0.1", self.lock_timeout_s + 0.1, "key_hold_s", self.key_hold_s,
                     "the first request must still hold the key when the repeat's lock wait ends")
        require_between("key_hold_s", self.key_hold_s, 0.05, 10, "s")
        require_between("conflict_pairs", self.conflict_pairs, 1, 50)
        require_between("deadlock_pairs", self.deadlock_pairs, 1, 20)
        require_between("conflict_hold_s", self.conflict_hold_s, 0.01, 2, "s")
        require_between("storm_rate", self.storm_rate, 1, 200)
        require_between("storm_hold_s", self.storm_hold_s, 0.001, 1, "s")
        require_between("storm_fault_hold_s", self.storm_fault_hold_s, self.storm_hold_s, 10, "s")
        require_between("storm_client_timeout_s", self.storm_client_timeout_s, 0.1, 30, "s")
        # The storm needs the fault to overload the replica and the recovered replica to keep up:
        # capacity during the fault below the first attempts, after it above them with a budget's
        # extra load, and below them with every attempt retried.
        during, after = self.storm_capacity(self.storm_fault_hold_s), self.storm_capacity(self.storm_hold_s)
        if not during < self.storm_rate:
            raise ParameterError("storm_fault_hold_s", self.storm_fault_hold_s,
                                 f"the fault must overload the replica: capacity {during:g}/s must be below "
                                 f"storm_rate {self.storm_rate:g}/s")
        if not self.storm_rate * (1 + self.budget_ratio) < after < self.storm_rate * self.attempts:
            raise ParameterError("storm_hold_s", self.storm_hold_s,
                                 f"capacity after the fault ({after:g}/s) must lie between the budgeted load "
                                 f"{self.storm_rate * (1 + self.budget_ratio):g}/s and every attempt retried "
                                 f"{self.storm_rate * self.attempts:g}/s")
        for name in ("storm_pre_s", "storm_fault_s", "storm_post_s"):
            require_between(name, getattr(self, name), 1, 120, "s")
        require_between("recovery_goodput_pct", self.recovery_goodput_pct, 50, 100, "%")
        require_between("recovery_hold_s", self.recovery_hold_s, 1, 10, "s")
        require_less("recovery_limit_s + recovery_hold_s", self.recovery_limit_s + self.recovery_hold_s,
                     "storm_post_s", self.storm_post_s, "recovery must be seen within the window after the fault")
        require_between("recovery_limit_s", self.recovery_limit_s, 0.5, 60, "s")
        require_between("tolerance_ms", self.tolerance_ms, 1, 1000, "ms")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    def storm_capacity(self, hold_s: float) -> float:
        """Requests per second one replica's pool serves at ``hold_s`` per request (Little's law)."""
        return self.workers * self.pool_max_size / hold_s

    @property
    def naive_product(self) -> int:
        """Database attempts per client request when every layer retries: client × nginx × app."""
        return self.naive_client_attempts * self.naive_nginx_tries * self.naive_app_attempts

    @property
    def jitter_window_s(self) -> float:
        """The first retry's backoff window (full jitter draws from 0 to it), for both callers."""
        return max(min(self.client_backoff_cap_s, self.client_backoff_base_s), self.naive_client_backoff_s)

    @property
    def jitter_bin_s(self) -> float:
        return self.jitter_window_s / self.jitter_bins

    @property
    def amplify_client_timeout_s(self) -> float:
        """The client's wait for one attempt: every nginx try's read timeout, and a second to spare."""
        return self.naive_nginx_tries * self.amplify_read_timeout_s + 1.0

    @property
    def storm_s(self) -> float:
        return self.storm_pre_s + self.storm_fault_s + self.storm_post_s

    @property
    def storm_first_attempts(self) -> int:
        return math.floor(self.storm_rate * self.storm_s)
