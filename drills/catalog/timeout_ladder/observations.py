"""What the timeout-ladder drill observes: each request as the client saw it and what the server
side did with it, and what one configuration's run found in the components' logs."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from ...stack.http import HttpResult


@dataclass
class Observation:
    """One request as the client saw it, and what the server side did with it."""

    configuration: str
    placement: str
    delay_s: float
    app_s: float
    db_s: float
    tag: str
    expected: str
    expected_at_s: float
    outcome: str = ""
    status: int | None = None
    latency_s: float = math.nan
    answered_at: float = math.nan
    body: str = ""
    #: How long the tagged query was still seen active after the client had its answer
    #: (a lower bound, to the sampling interval); None when it was never seen.
    query_outlived_s: float | None = None
    #: How long the handler ran on after the client had its answer; None without a ledger line.
    handler_outlived_s: float | None = None
    #: How long each attempt nginx made to send the request upstream took (its access log: more
    #: than one when it resent the request); None where the log was not read.
    attempt_s: list[float] | None = None
    #: For each attempt that reached a worker and started blocking (``/block``'s own record): how
    #: long from that start until nginx saw the attempt fail. Unlike ``attempt_s`` it leaves out the
    #: time a resent request waited in the listen queue for a replacement worker to boot. None where
    #: the service's records were not read.
    killed_after_s: list[float] | None = None

    def to_row(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class LogEvidence:
    """What the components logged during one configuration (the local stack only)."""

    #: nginx: "upstream timed out" (a proxy 504) and "upstream prematurely closed" (a 502).
    upstream_timeouts: int = 0
    upstream_closed: int = 0
    #: Gunicorn: "WORKER TIMEOUT", the heartbeat killing (Uvicorn) or aborting (sync) a worker.
    worker_timeouts: int = 0
    #: Gunicorn: "was sent SIGKILL", an abort the worker could not run (a 502, not its 500).
    worker_kills: int = 0


@dataclass
class LadderRun:
    """One configuration's requests, with what the logs and the activity sampler saw meanwhile."""

    configuration: str
    observations: list[Observation]
    #: None where the drill cannot read the logs (a target it does not own).
    evidence: LogEvidence | None = None
    #: Passes of the pg_stat_activity sampler (0 without a database connection).
    activity_samples: int = 0


def killed_after(logged_at: float, attempt_s: list[float], started_at: list[float],
                 slack_s: float = 0.05) -> list[float]:
    """For each time a handler started blocking (``started_at``), how long until the nginx attempt
    it belongs to ended. nginx makes its attempts back to back and logs the request (``logged_at``,
    its ``$msec``) when the last ends, so attempt k ended ``logged_at`` less the attempts after it.
    A start belongs to the latest attempt that had begun by then (within ``slack_s``: clocks read in
    different processes): a resend to a worker that was up begins as the previous attempt ends, so
    its start lies on that boundary. An attempt shorter than ``slack_s`` (a cached connection that
    failed at once) reached no handler. NaN for a start no attempt holds."""
    spans, end = [], logged_at
    for took in reversed(attempt_s):
        if math.isfinite(took) and took >= slack_s:
            spans.append((end - took, end))
        end -= took if math.isfinite(took) else 0.0
    out = []
    for start in sorted(started_at):
        held = [(begin, stop) for begin, stop in spans if begin - slack_s <= start <= stop + slack_s]
        out.append(max(held)[1] - start if held else math.nan)
    return out


#: Gunicorn's own error page (``gunicorn.util.write_error``), which a sync worker aborted by its
#: ``timeout`` writes as it exits (FACTS-wsgi §1.2); Flask's, Django's and nginx's 500s differ.
GUNICORN_ERROR_PAGE = "<h1><p>Internal Server Error</p></h1>"


def classify(result: HttpResult) -> str:
    """Which layer answered: ok, database, app, pool, worker-timeout, proxy-504, proxy-502,
    client-timeout, …"""
    if result.status is None:
        return "client-timeout" if result.failure == "timeout" else f"connection-{result.failure}"
    if result.status == 200:
        return "ok"
    try:
        layer = json.loads(result.body).get("layer")
    except (ValueError, AttributeError):
        layer = None
    if isinstance(layer, str):
        return layer
    if result.status in (502, 504):
        return f"proxy-{result.status}"
    if result.status == 500 and GUNICORN_ERROR_PAGE in result.body.decode("utf-8", "replace"):
        return "worker-timeout"
    return f"http-{result.status}"
