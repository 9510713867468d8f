"""Restarting the replicas one by one on the real stack, and reading what every component recorded.

* ``rolling`` (``recommended-rolling``, ``no-prestop``): steady load through nginx while each replica
  is replaced by the stack's rollout (``drills.stack.rollout``);
* ``drain`` (``recommended-drain``): no steady load; replica 0 is replaced with "within" requests in
  flight (through nginx, ending ``drain_within_s`` after SIGTERM), replica 1 with "beyond" requests
  (straight to it, ending ``drain_beyond_s`` after ``graceful_timeout``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ...deployment import Capability, Deployment
from ...errors import MeasurementError
from ...pipeline import Measuring
from ...stack.http import Endpoint
from ...stack.pg_log import disconnections
from ...stack.rollout import Rollout
from ...stack.service import read_records
from ...stack.steady import SteadyLoad
from ..bursts import aim_ms, together
from .observations import KINDS, STALE, DrainRequest, RestartRecord, RollingRun, parse_error_log
from .params import Params

#: Between two copies of a drain request, so that nginx's round robin sees them one after another.
COPY_GAP_S = 0.02
#: Steady load before the first restart and after the last.
MARGIN_S = 1.0


def measure(m: Measuring[Params]) -> RollingRun:
    deployment = m.deployment
    rollout = m.stack.rollout if m.stack is not None else None
    if Capability.RESTARTS not in deployment.capabilities or rollout is None:
        raise MeasurementError(f"the rolling-restart drill cannot {Capability.RESTARTS.value} here")
    log_from = len(deployment.log("proxy"))
    if m.run == "recommended-drain":
        run = drain(deployment, rollout, m.params, m.configuration, m.run, m.say)
    elif KINDS[m.run] == "keepalive":
        run = RollingRun(m.configuration, m.run, [], drain=keepalive_bursts(deployment, m.params, log_from, m.say))
    else:
        run = rolling(deployment, rollout, m.params, m.configuration, m.run, m.say)
    run.nginx = parse_error_log(deployment.log("proxy")[log_from:])
    run.inflight = records(deployment, "inflight")
    run.lifecycle = records(deployment, "lifecycle")
    run.disconnections = [dataclasses.asdict(d) for d in disconnections(deployment.log("postgres"))]
    return run


def records(deployment: Deployment, kind: str) -> list[dict[str, Any]]:
    """Every worker's ``<kind>-<pid>.jsonl`` lines (``drills.app.shutdown``), each with its replica."""
    return [{**r, "replica": i} for i, folder in enumerate(deployment.ledger_dirs) for r in read_records(folder, kind)]


def rolling(deployment: Deployment, rollout: Rollout, params: Params, configuration: str, run: str,
            say: Callable[[str], None]) -> RollingRun:
    """Every replica replaced in turn under steady GET/POST load through nginx."""
    path = f"/inflight?app_s={params.load_app_s}&db_s={params.load_db_s}&tag="

    def request_for(k: int, tag: str) -> tuple[str, str]:
        return ("GET" if k % 2 == 0 else "POST"), path + tag

    say(f"  rolling restart of {params.replicas} replicas under {params.load_rps:g} req/s "
        f"(preStop {rollout.pre_stop_s:g} s, endpoint lag {rollout.endpoint_lag_s:g} s)")
    restarts = []
    with SteadyLoad(deployment.entry, rps=params.load_rps, max_in_flight=params.load_max_in_flight,
                    request_for=request_for, timeout_s=params.client_timeout_s, tag_prefix="rr") as load:
        time.sleep(MARGIN_S)
        for replica in range(params.replicas):
            restarts.append(RestartRecord.of(deployment.restart_replica(replica, rollout, say)))
            time.sleep(params.between_s)
        time.sleep(MARGIN_S)
    return RollingRun(configuration, run, restarts, sent=[s.to_row() for s in load.sent])


def drain(deployment: Deployment, rollout: Rollout, params: Params, configuration: str, run: str,
          say: Callable[[str], None]) -> RollingRun:
    """Replica 0 replaced with "within" requests in flight, then replica 1 with "beyond" ones."""
    requests: list[DrainRequest] = []
    restarts = []
    copies = params.replicas
    # deployment.metrics: each replica itself, past nginx (a balancer without nginx's read timeout).
    for replica, role, ends_after_sigterm_s, via in (
            (0, "within", params.drain_within_s, deployment.entry),
            (1, "beyond", params.graceful_timeout_s + params.drain_beyond_s, deployment.metrics[1])):
        n = params.drain_repeats * 2 * (copies if role == "within" else 1)
        deletion = time.time() + n * COPY_GAP_S + 0.1
        sigterm = deletion + rollout.pre_stop_s
        say(f"  drain: {n} {role} requests, ending {ends_after_sigterm_s:g} s after replica {replica}'s SIGTERM")
        with concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="drills-drain") as pool:
            batch = []
            for k in range(params.drain_repeats * 2):
                for _ in range(copies if role == "within" else 1):
                    request = DrainRequest(role, "GET" if k % 2 == 0 else "POST", f"d{role[0]}{len(requests):04d}",
                                           time.time())
                    app_s = max(0.0, sigterm + ends_after_sigterm_s - request.sent_at - params.load_db_s)
                    batch.append(pool.submit(_send, via, request, app_s, params))
                    requests.append(request)
                    time.sleep(COPY_GAP_S)
            time.sleep(max(0.0, deletion - time.time()))
            restarts.append(RestartRecord.of(deployment.restart_replica(replica, rollout, say)))
            for future in batch:
                future.result()
        time.sleep(params.between_s)
    return RollingRun(configuration, run, restarts, drain=requests)


def _send(via: Endpoint, request: DrainRequest, app_s: float, params: Params) -> None:
    result = via.request(request.method, f"/inflight?app_s={app_s:.3f}&db_s={params.load_db_s}&tag={request.tag}",
                         timeout_s=params.beyond_length_s + 5.0)
    request.answered_at, request.status, request.failure = time.time(), result.status, result.failure


def keepalive_bursts(deployment: Deployment, params: Params, log_from: int,
                     say: Callable[[str], None]) -> list[DrainRequest]:
    """Bursts of fast POSTs through nginx, each released as the backend's inverted keep-alive
    expires on the connections the burst before left idle in nginx's cache (proxy-upstreams'
    procedure, there with GETs): burst 0 only opens the connections. Stops once nginx has logged
    ``keepalive_stop_errors`` POSTs sent on a connection the backend had closed."""
    gap_s, n = float(params.inverted_gunicorn_keepalive_s), params.keepalive_burst_size
    out: list[DrainRequest] = []
    anchor: float | None = None
    with concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="drills-burst") as pool:
        for burst in range(params.keepalive_bursts + 1):
            batch = [DrainRequest("paced", "POST", f"ka{burst:03d}{k:03d}", math.nan, burst=burst) for k in range(n)]
            at = None if anchor is None else anchor + gap_s + aim_ms(burst, params.keepalive_aim_ms,
                                                                     params.keepalive_sweep_ms) / 1000.0
            anchor = min(together(pool, [partial(_paced, deployment.entry, r) for r in batch], at))
            out += batch
            stale = {e.tag for e in parse_error_log(deployment.log("proxy")[log_from:]) if e.event in STALE}
            if burst and burst % 8 == 0:
                say(f"  keep-alive: {burst}/{params.keepalive_bursts} bursts of {n} POSTs; {len(stale)} met a closed "
                    "connection")
            if len(stale) >= params.keepalive_stop_errors:
                say(f"  keep-alive: {len(stale)} POSTs met a closed connection by burst {burst}: enough, stopping")
                break
    return out


def _paced(via: Endpoint, request: DrainRequest) -> float:
    """Send one fast POST; fill in what the client saw; return when (monotonic) the answer came."""
    started, request.sent_at = time.monotonic(), time.time()
    result = via.request("POST", f"/inflight?tag={request.tag}", timeout_s=2.0)
    request.answered_at, request.status, request.failure = time.time(), result.status, result.failure
    return started + result.elapsed_s
