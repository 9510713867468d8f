"""A retry policy as retries-backoff.md recommends it, and the naive one it warns against.

One implementation for every layer the retry drill plays: the caller (the drill's own client and
its Locust users) and the app's whole-transaction retry. Pure, apart from the lock of the budget and
the random draw of the jitter, so every decision is unit tested; the drill counts what the real
stack did with it.

* :class:`RetryBudget` — a token bucket: every request earns ``ratio`` tokens (up to ``burst``),
  every retry spends one; while a dependency fails, retries settle at ``ratio`` of the requests.
* :func:`backoff_s` — capped exponential backoff, with full jitter or without.
* :class:`RetryPolicy` — which outcome is retried, how often, after how long: :meth:`RetryPolicy.decide`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from .recommended import RECOMMENDED

#: RFC 9110 §9.2.2: repeating them has the effect of doing them once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

#: What went wrong with one attempt, when it has no status: the connection was refused or reset
#: before a response (the request cannot have run), or no answer came within the client's timeout
#: (it may still be running).
Failure = Literal["connect", "timeout"]
Jitter = Literal["full", "none"]


class RetryBudget:
    """Token bucket: every request earns ``ratio`` tokens, every retry spends one (thread-safe).

    It starts full, so a quiet client may spend ``burst`` retries at once; under a lasting failure
    retries settle at ``ratio`` × requests. ``ratio`` 0 is no budget at all: every retry passes.
    """

    def __init__(self, ratio: float, burst: int) -> None:
        if ratio < 0 or burst < 0:
            raise ValueError(f"ratio={ratio}, burst={burst}: both must be ≥ 0")
        self.ratio, self.burst, self.tokens = ratio, float(burst), float(burst)
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.ratio == 0

    def on_request(self) -> None:
        with self._lock:
            self.tokens = min(self.burst, self.tokens + self.ratio)

    def try_retry(self) -> bool:
        if self.unlimited:
            return True
        with self._lock:
            if self.tokens < 1.0:
                return False
            self.tokens -= 1.0
            return True


def backoff_s(retry: int, base_s: float, cap_s: float, jitter: Jitter, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, …): ``min(cap, base × 2^(retry−1))``,
    drawn uniformly from 0 to it with full jitter (Brooker, "Exponential Backoff and Jitter")."""
    if retry < 1:
        raise ValueError(f"retry={retry}: retries count from 1")
    ceiling = min(cap_s, base_s * 2 ** (retry - 1))
    return (rng or random).uniform(0.0, ceiling) if jitter == "full" else ceiling


@dataclass(frozen=True)
class RetryPolicy:
    """When one layer retries, how often and after how long. Seconds unless named otherwise."""

    #: Attempts per request, the first included (1: never retry).
    attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    jitter: Jitter = "full"
    #: Retries add at most this share to the requests (0: no budget).
    budget_ratio: float = 0.0
    budget_burst: int = 0
    #: Answers retried (for the methods below): a saturated pool's 503, shedding's 429, a proxy's 502.
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503}))
    #: "idempotent": only requests that may run twice, or carry an idempotency key, are retried
    #: once they may have reached the app; "all": every method.
    methods: Literal["idempotent", "all"] = "idempotent"
    #: Retry a request that got no answer within the client's timeout (it may still be running).
    retry_timeouts: bool = False

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts={self.attempts}: at least the first one")
        if not 0 <= self.backoff_base_s <= self.backoff_cap_s:
            raise ValueError(f"backoff {self.backoff_base_s}–{self.backoff_cap_s} s: need 0 ≤ base ≤ cap")

    @classmethod
    def recommended_caller(cls, scale: float = 1.0) -> RetryPolicy:
        """retries-backoff.md's HTTP caller: connect errors, 429, 502, 503 for idempotent or keyed
        requests, 3 attempts within a 10 % budget, full jitter from 1 s up to 20 s (× ``scale``)."""
        r = RECOMMENDED.retry
        return cls(attempts=r.attempts, backoff_base_s=r.client_backoff_base_s * scale,
                   backoff_cap_s=r.client_backoff_cap_s * scale, jitter="full",
                   budget_ratio=r.budget_ratio, budget_burst=r.budget_burst)

    @classmethod
    def naive_caller(cls, attempts: int, backoff_s: float) -> RetryPolicy:
        """The anti-pattern: every failure of every method, 504s and timeouts included, a fixed
        wait, no budget, no jitter."""
        return cls(attempts=attempts, backoff_base_s=backoff_s, backoff_cap_s=backoff_s, jitter="none",
                   statuses=frozenset({500, 502, 503, 504}), methods="all", retry_timeouts=True)

    def settings(self) -> dict[str, object]:
        """What the drill's client runs with, for the findings' settings table (no component reports it)."""
        return {"attempts": self.attempts, "backoff_base_s": self.backoff_base_s, "backoff_cap_s": self.backoff_cap_s,
                "jitter": self.jitter, "budget_ratio": self.budget_ratio, "budget_burst": self.budget_burst,
                "statuses": ",".join(map(str, sorted(self.statuses))), "methods": self.methods,
                "retry_timeouts": self.retry_timeouts}

    def budget(self) -> RetryBudget:
        return RetryBudget(self.budget_ratio, self.budget_burst)

    def may_repeat(self, method: str, keyed: bool) -> bool:
        return self.methods == "all" or keyed or method.upper() in IDEMPOTENT_METHODS

    def decide(self, *, attempt: int, method: str = "GET", status: int | None = None,
               failure: Failure | None = None, keyed: bool = False, retry_after_s: float | None = None,
               budget: RetryBudget | None = None, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None: the outcome of ``attempt`` (1-based)
        is the answer.

        A refused or reset connection never reached the app: retried for any method. A timeout,
        or a retryable status, may have run: retried only where ``may_repeat``. ``Retry-After`` is
        the least wait (jittered backoff is added), and one above the cap is the answer. A retry
        the budget cannot pay for is not made.
        """
        if attempt >= self.attempts:
            return None
        if failure == "connect":
            retryable = True
        elif failure == "timeout":
            retryable = self.retry_timeouts and self.may_repeat(method, keyed)
        else:
            retryable = status in self.statuses and self.may_repeat(method, keyed)
        if not retryable:
            return None
        if retry_after_s is not None and retry_after_s > self.backoff_cap_s:
            return None
        if budget is not None and not budget.try_retry():
            return None
        wait = backoff_s(attempt, self.backoff_base_s, self.backoff_cap_s, self.jitter, rng)
        return wait + (retry_after_s or 0.0)
