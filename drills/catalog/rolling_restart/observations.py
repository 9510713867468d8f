"""What the rolling-restart drill observes: each replica's restart (every moment of it), each request
as the client saw it, what nginx logged about the upstreams, the workers' own records of their
shutdown and PostgreSQL's record of their sessions ending."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ...stack import Restart

#: Which measurement a run is.
KINDS = {"recommended-rolling": "rolling", "no-prestop": "rolling", "recommended-drain": "drain",
         "recommended-keepalive": "keepalive", "keepalive-inverted": "keepalive"}

#: nginx (1.22) error-log messages about an upstream attempt, and their names here. All but
#: ``disabled`` are a failed attempt: behind a proxy that resends nothing (the ALB) each is a 502.
LOG_EVENTS = {
    "connect() failed (111": "refused",
    "Connection reset by peer": "reset",
    "upstream prematurely closed connection": "premature-close",
    "Broken pipe": "broken-pipe",
    "upstream timed out": "timed-out",
    "no live upstreams": "no-live",
    "upstream server temporarily disabled": "disabled",
}
FAILED_ATTEMPTS = ("refused", "reset", "premature-close", "broken-pipe", "timed-out", "no-live")
#: A request sent on a cached upstream connection the backend had closed (FACTS-retries-shutdown §13 E4).
STALE = ("premature-close", "reset", "broken-pipe")
_TAG = re.compile(r"[?&]tag=([A-Za-z0-9_-]+)")
_UPSTREAM = re.compile(r'upstream: "http://[^:/"]+:(\d+)/')


@dataclass(frozen=True)
class NginxEvent:
    """One error-log line of interest: what happened, to which request (tag) and which upstream port."""

    event: str
    tag: str | None
    port: int | None


def parse_error_log(text: str) -> list[NginxEvent]:
    """nginx error-log lines → the events of ``LOG_EVENTS``, in log order; other lines skipped."""
    out = []
    for line in text.splitlines():
        for needle, event in LOG_EVENTS.items():
            if needle in line:
                tag, port = _TAG.search(line), _UPSTREAM.search(line)
                out.append(NginxEvent(event, tag.group(1) if tag else None, int(port.group(1)) if port else None))
                break
    return out


@dataclass(frozen=True)
class RestartRecord:
    """One replica replaced (wall clock): ``drills.stack.Restart`` flattened for findings."""

    replica: int
    port: int
    deleted_at: float
    dropped_live_at: float
    sigterm_at: float
    exited_at: float
    exit_code: int | None
    killed: bool
    started_at: float
    ready_at: float
    back_live_at: float
    old_pids: tuple[int, ...]
    new_pids: tuple[int, ...]

    @classmethod
    def of(cls, restart: Restart) -> RestartRecord:
        t = restart.termination
        return cls(restart.replica, restart.port, restart.deleted_at, restart.dropped.live_at, t.sigterm_at,
                   t.exited_at, t.exit_code, t.killed, restart.started_at, restart.ready_at, restart.back.live_at,
                   t.pids, restart.new_pids)

    @property
    def old_workers(self) -> tuple[int, ...]:
        return self.old_pids[1:]

    def phase(self, at: float) -> str:
        """Which part of the restart a moment falls in."""
        for name, end in (("before", self.deleted_at), ("deleted", min(self.dropped_live_at, self.sigterm_at)),
                          ("gap", max(self.dropped_live_at, self.sigterm_at)), ("draining", self.exited_at),
                          ("starting", self.ready_at), ("ready", self.back_live_at)):
            if at < end:
                return name
        return "back"


@dataclass
class DrainRequest:
    """One request the drain sent — ``within`` (through nginx, ends inside graceful_timeout) or
    ``beyond`` (straight to the replica, outlasts it) — or a keep-alive burst's (``paced``)."""

    role: str
    method: str
    tag: str
    sent_at: float
    answered_at: float = math.nan
    status: int | None = None
    failure: str | None = None
    #: The keep-alive burst it was part of (0 only opens the connections); -1 for the drain's.
    burst: int = -1

    def to_row(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass
class RollingRun:
    """One measurement: its restarts and requests, and what the components recorded meanwhile."""

    configuration: str
    run: str
    restarts: list[RestartRecord]
    #: The steady client's records (``drills.stack.steady.Sent.to_row``): rolling runs.
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: The drain's requests (drain runs), or the keep-alive bursts' (keepalive runs).
    drain: list[DrainRequest] = field(default_factory=list)
    #: nginx's events during the run (None: its log not readable).
    nginx: list[NginxEvent] | None = None
    #: The workers' ``inflight`` and ``lifecycle`` lines (each with ``replica``); None: not readable.
    inflight: list[dict[str, Any]] | None = None
    lifecycle: list[dict[str, Any]] | None = None
    #: PostgreSQL's disconnection lines: {application_name, backend_pid, at, session_s}; None: not readable.
    disconnections: list[dict[str, Any]] | None = None

    @property
    def kind(self) -> str:
        return KINDS[self.run]

    def failed_attempts(self, port: int | None = None) -> list[NginxEvent]:
        """nginx's failed upstream attempts (to ``port`` only, if given)."""
        return [e for e in self.nginx or [] if e.event in FAILED_ATTEMPTS and (port is None or e.port == port)]

    def stale_tags(self) -> set[str]:
        """Requests nginx sent on a connection the backend had closed (tags its log named)."""
        return {e.tag for e in self.nginx or [] if e.event in STALE and e.tag is not None}

    def ends(self, pid: int) -> list[dict[str, Any]]:
        return [r for r in self.inflight or [] if r["event"] == "end" and r["pid"] == pid]

    def life(self, pid: int) -> dict[str, float]:
        return {r["event"]: r["at"] for r in self.lifecycle or [] if r["pid"] == pid}
