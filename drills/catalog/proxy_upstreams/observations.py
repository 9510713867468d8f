"""What the proxy-upstreams drill observes: each request as the client saw it, what nginx logged
about it, and how often the service's handlers ran it (the ledger of tagged requests)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ...stack.http import HttpResult

#: Which measurement a run is: keep-alive race, retry on timeout, ejection.
KINDS = {"recommended-keepalive": "keepalive", "keepalive-inverted": "keepalive",
         "recommended-retry": "retry", "retry-timeout": "retry",
         "recommended-eject": "eject", "max-fails-1": "eject"}

#: nginx error-log messages (1.22) and what they mean here. The first three are a request sent on
#: a cached upstream connection the backend had already closed (FACTS-retries-shutdown.md §13 E4).
LOG_EVENTS = {
    "upstream prematurely closed connection": "stale-closed",
    "Connection reset by peer": "stale-reset",
    "Broken pipe": "stale-broken-pipe",
    "upstream timed out": "timed-out",
    "upstream server temporarily disabled": "disabled",
    "no live upstreams": "no-live",
}
STALE = ("stale-closed", "stale-reset", "stale-broken-pipe")
_TAG = re.compile(r"[?&]tag=([A-Za-z0-9_-]+)")


@dataclass
class Request:
    """One request as the client saw it."""

    tag: str
    #: "paced" (keep-alive bursts), "slow" (a GET slower than nginx's read timeout), "probe".
    role: str
    sent_at: float
    latency_s: float = math.nan
    status: int | None = None
    outcome: str = ""
    #: Keep-alive bursts: the burst, and how far after the backend's keep-alive expiry it was aimed (ms).
    burst: int = -1
    aim_ms: float = math.nan

    def to_row(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass
class UpstreamRun:
    """One measurement: its requests, nginx's error-log events during it, the handlers' executions."""

    configuration: str
    run: str
    requests: list[Request]
    #: nginx error-log events written during this run, by LOG_EVENTS name (None: logs not readable).
    log_events: dict[str, int] | None = None
    #: Tags nginx named in each event kind (e.g. which requests met a stale connection).
    log_tags: dict[str, list[str]] = field(default_factory=dict)
    #: Tag -> the replicas (0-based) whose handler ran it, one entry per execution (None: no ledger).
    executions: dict[str, list[int]] | None = None

    @property
    def kind(self) -> str:
        return KINDS[self.run]

    def of(self, role: str) -> list[Request]:
        return [r for r in self.requests if r.role == role]

    def stale_errors(self) -> int | None:
        return None if self.log_events is None else sum(self.log_events.get(k, 0) for k in STALE)

    def stale_tags(self) -> set[str]:
        return {t for k in STALE for t in self.log_tags.get(k, [])}


def classify(result: HttpResult) -> str:
    """ok, proxy-502, proxy-504 (nginx's own), app-<status> (the service's, naming its layer), client-…"""
    if result.status is None:
        return "client-timeout" if result.failure == "timeout" else f"client-{result.failure}"
    if result.status == 200:
        return "ok"
    try:
        layer = json.loads(result.body).get("layer")
    except (ValueError, AttributeError):
        layer = None
    if isinstance(layer, str):
        return f"app-{result.status}"
    return f"proxy-{result.status}" if result.status in (502, 504) else f"http-{result.status}"


def parse_error_log(text: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """nginx error-log lines → (count per event, tags per event); lines of no interest are skipped."""
    counts: Counter[str] = Counter()
    tags: dict[str, list[str]] = {}
    for line in text.splitlines():
        for needle, event in LOG_EVENTS.items():
            if needle in line:
                counts[event] += 1
                match = _TAG.search(line)
                if match:
                    tags.setdefault(event, []).append(match.group(1))
                break
    return dict(counts), tags


def parse_ledgers(texts: list[str]) -> dict[str, list[int]]:
    """The service's ledger files, one text per replica → tag → the replica of each execution."""
    out: dict[str, list[int]] = {}
    for replica, text in enumerate(texts):
        for line in text.splitlines():
            if line.strip():
                out.setdefault(json.loads(line)["tag"], []).append(replica)
    return out
