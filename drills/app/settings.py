"""The service's knobs, read from ``DRILLS_APP_*`` environment variables in one place.

The harness (``drills.stack.service``) writes these variables from a typed ``ServiceConfig``;
Gunicorn's own knobs (workers, timeout, keep-alive) travel as Gunicorn command-line flags.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, TypeVar, cast, get_args

from ..recommended import RECOMMENDED

PREFIX = "DRILLS_APP_"

#: Which database errors the app answers by running its transaction again (retries-backoff.md,
#: PostgreSQL-Class Databases):
#:
#: * ``none`` — never (the service as it was before the retry drill);
#: * ``serialization`` — 40001 and 40P01 only, the whole transaction: the paper's policy;
#: * ``statement`` — 40001 and 40P01, but only the failed statement, again, inside the aborted
#:   transaction: the falsifier (PostgreSQL answers 25P02, the app 409);
#: * ``operational`` — any ``psycopg.OperationalError`` (57014, 55P03, PoolTimeout, …), the whole
#:   transaction: the naive ``except OperationalError: retry`` of Anti-pattern 6.
RetryOn = Literal["none", "serialization", "statement", "operational"]
RETRY_ON: tuple[str, ...] = get_args(RetryOn)
Jitter = Literal["full", "none"]
JITTERS: tuple[str, ...] = get_args(Jitter)
#: When a worker closes its connection pool (graceful-shutdown.md):
#:
#: * ``lifespan`` — in the lifespan shutdown, which Uvicorn runs only after the in-flight requests
#:   have ended: the paper's way;
#: * ``sigterm`` — as soon as SIGTERM arrives (a handler chained before Uvicorn's): the anti-pattern
#:   of releasing resources in a signal handler, the drain's falsifier.
PoolClose = Literal["lifespan", "sigterm"]
POOL_CLOSES: tuple[str, ...] = get_args(PoolClose)

T = TypeVar("T")


class SettingError(ValueError):
    """A knob with a value the service cannot run with; the message names the knob."""


@dataclass(frozen=True, kw_only=True)
class AppTuning:
    """The service's own knobs, as the harness sets them (``drills.stack.ServiceConfig`` extends
    this with Gunicorn's). Seconds unless the name says otherwise."""

    pool_min_size: int = 2
    pool_max_size: int = 4
    #: psycopg_pool's wait for a free connection before PoolTimeout.
    pool_timeout_s: float = 0.5
    #: psycopg_pool's max_waiting; 0 means unbounded.
    pool_max_waiting: int = 0
    #: The app's own deadline for a request; 0 disables it.
    request_budget_s: float = 0.0
    #: How long a worker waits at boot for its pool to fill before it fails to boot.
    pool_open_timeout_s: float = 10.0
    #: ``check=AsyncConnectionPool.check_connection``: each connection is tested (one empty query)
    #: as it is handed out, so one the server closed while idle is replaced, not given to a request.
    pool_check: bool = True
    #: What the app retries (see ``RetryOn``). "none" by default: the service retried nothing before
    #: the retry drill, and the drills written before it must keep measuring that service.
    retry_on: RetryOn = "none"
    #: Transaction attempts per request, the first included (used unless ``retry_on`` is "none").
    retry_attempts: int = RECOMMENDED.retry.attempts
    #: Retries add at most this share to the requests of one worker (token bucket); 0: no budget.
    retry_budget_ratio: float = RECOMMENDED.retry.budget_ratio
    retry_budget_burst: int = RECOMMENDED.retry.budget_burst
    #: Backoff before retry k: min(cap, base × 2^(k−1)), drawn from [0, it] with full jitter.
    retry_backoff_base_s: float = RECOMMENDED.retry.transaction_backoff_base_s
    retry_backoff_cap_s: float = RECOMMENDED.retry.transaction_backoff_cap_s
    retry_jitter: Jitter = "full"
    #: ``POST /orders`` honours ``Idempotency-Key`` (Pattern D: required, stored with the effect,
    #: replayed). On by default: the endpoint is new, and the paper's pattern is what it is for;
    #: off is the naive service that ignores the header.
    idempotency: bool = True
    #: When the worker closes its pool (see ``PoolClose``).
    pool_close: PoolClose = "lifespan"

    def __post_init__(self) -> None:
        if self.pool_close not in POOL_CLOSES:
            raise SettingError(f"pool_close={self.pool_close!r}: must be one of {', '.join(POOL_CLOSES)}")
        if self.retry_on not in RETRY_ON:
            raise SettingError(f"retry_on={self.retry_on!r}: must be one of {', '.join(RETRY_ON)}")
        if self.retry_jitter not in JITTERS:
            raise SettingError(f"retry_jitter={self.retry_jitter!r}: must be one of {', '.join(JITTERS)}")
        if self.retry_attempts < 1:
            raise SettingError(f"retry_attempts={self.retry_attempts}: at least 1 (the first attempt)")
        if self.retry_budget_ratio < 0 or self.retry_budget_burst < 0:
            raise SettingError(f"retry_budget_ratio={self.retry_budget_ratio}, retry_budget_burst="
                               f"{self.retry_budget_burst}: both must be ≥ 0")
        if not 0 <= self.retry_backoff_base_s <= self.retry_backoff_cap_s:
            raise SettingError(f"retry_backoff_base_s={self.retry_backoff_base_s}, retry_backoff_cap_s="
                               f"{self.retry_backoff_cap_s}: need 0 ≤ base ≤ cap")

    def tuning(self) -> AppTuning:
        """Just the app's knobs (without what a subclass adds)."""
        return AppTuning(**{f.name: getattr(self, f.name) for f in fields(AppTuning)})


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("must be 1 or 0")
    return text == "1"


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


@dataclass(frozen=True, kw_only=True)
class AppSettings(AppTuning):
    """What one worker needs: its knobs, where the database is, and a folder it shares with the others."""

    #: libpq conninfo of the app role; holds the password, so it is never logged or reported.
    conninfo: str
    #: Folder shared by the workers: readiness files, Prometheus multiprocess files, read-back.
    state_dir: Path

    @classmethod
    def from_env(cls, environ: os._Environ[str] | Mapping[str, str] = os.environ) -> AppSettings:
        """Read every knob; a missing required one or a value that does not parse raises
        :class:`SettingError` naming the variable (a worker that cannot boot says why)."""

        def get(name: str, convert: Callable[[str], T], default: str | None = None) -> T:
            value = environ.get(PREFIX + name, default)
            if value is None:
                raise SettingError(f"{PREFIX}{name} is not set; the service is started by drills.stack.service")
            try:
                return convert(value)
            except ValueError as exc:
                raise SettingError(f"{PREFIX}{name}={value!r}: {exc}") from None

        d = AppTuning()
        try:
            return cls(
                conninfo=get("CONNINFO", str),
                state_dir=get("STATE_DIR", Path),
                pool_min_size=get("POOL_MIN_SIZE", int, "2"),
                pool_max_size=get("POOL_MAX_SIZE", int, "4"),
                pool_timeout_s=get("POOL_TIMEOUT_S", float, "0.5"),
                pool_max_waiting=get("POOL_MAX_WAITING", int, "0"),
                request_budget_s=get("REQUEST_BUDGET_S", float, "0"),
                pool_open_timeout_s=get("POOL_OPEN_TIMEOUT_S", float, "10"),
                pool_check=get("POOL_CHECK", _flag, "1"),
                retry_on=cast(RetryOn, get("RETRY_ON", _choice(RETRY_ON), d.retry_on)),
                retry_attempts=get("RETRY_ATTEMPTS", int, str(d.retry_attempts)),
                retry_budget_ratio=get("RETRY_BUDGET_RATIO", float, repr(d.retry_budget_ratio)),
                retry_budget_burst=get("RETRY_BUDGET_BURST", int, str(d.retry_budget_burst)),
                retry_backoff_base_s=get("RETRY_BACKOFF_BASE_S", float, repr(d.retry_backoff_base_s)),
                retry_backoff_cap_s=get("RETRY_BACKOFF_CAP_S", float, repr(d.retry_backoff_cap_s)),
                retry_jitter=cast(Jitter, get("RETRY_JITTER", _choice(JITTERS), d.retry_jitter)),
                idempotency=get("IDEMPOTENCY", _flag, "1" if d.idempotency else "0"),
                pool_close=cast(PoolClose, get("POOL_CLOSE", _choice(POOL_CLOSES), d.pool_close)),
            )
        except SettingError as exc:
            if str(exc).startswith(PREFIX):
                raise
            # A value that parses but cannot run (retry_attempts=0): the check names the knob,
            # and the variable that set it is its name in capitals.
            raise SettingError(f"{PREFIX}{str(exc).split('=', 1)[0].upper()}: {exc}") from None

    def to_env(self) -> dict[str, str]:
        return {
            PREFIX + "CONNINFO": self.conninfo,
            PREFIX + "STATE_DIR": str(self.state_dir),
            PREFIX + "POOL_MIN_SIZE": str(self.pool_min_size),
            PREFIX + "POOL_MAX_SIZE": str(self.pool_max_size),
            PREFIX + "POOL_TIMEOUT_S": repr(self.pool_timeout_s),
            PREFIX + "POOL_MAX_WAITING": str(self.pool_max_waiting),
            PREFIX + "REQUEST_BUDGET_S": repr(self.request_budget_s),
            PREFIX + "POOL_OPEN_TIMEOUT_S": repr(self.pool_open_timeout_s),
            PREFIX + "POOL_CHECK": "1" if self.pool_check else "0",
            PREFIX + "RETRY_ON": self.retry_on,
            PREFIX + "RETRY_ATTEMPTS": str(self.retry_attempts),
            PREFIX + "RETRY_BUDGET_RATIO": repr(self.retry_budget_ratio),
            PREFIX + "RETRY_BUDGET_BURST": str(self.retry_budget_burst),
            PREFIX + "RETRY_BACKOFF_BASE_S": repr(self.retry_backoff_base_s),
            PREFIX + "RETRY_BACKOFF_CAP_S": repr(self.retry_backoff_cap_s),
            PREFIX + "RETRY_JITTER": self.retry_jitter,
            PREFIX + "IDEMPOTENCY": "1" if self.idempotency else "0",
            PREFIX + "POOL_CLOSE": self.pool_close,
        }

    def public(self) -> dict[str, object]:
        """The settings without the conninfo, for /config and findings."""
        return {
            "pool_min_size": self.pool_min_size,
            "pool_max_size": self.pool_max_size,
            "pool_timeout_s": self.pool_timeout_s,
            "pool_max_waiting": self.pool_max_waiting,
            "request_budget_s": self.request_budget_s,
            "pool_check": "check_connection" if self.pool_check else None,
            "retry_on": self.retry_on,
            "retry_attempts": self.retry_attempts,
            "retry_budget_ratio": self.retry_budget_ratio,
            "retry_budget_burst": self.retry_budget_burst,
            "retry_backoff_base_s": self.retry_backoff_base_s,
            "retry_backoff_cap_s": self.retry_backoff_cap_s,
            "retry_jitter": self.retry_jitter,
            "idempotency": self.idempotency,
            "pool_close": self.pool_close,
        }
