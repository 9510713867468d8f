"""Sending the proxy-upstreams drill's traffic through nginx, and reading what nginx and the
service's handlers did with it (nginx's error log, the service's ledger of tagged requests)."""

from __future__ import annotations

import concurrent.futures
import math
import time
import uuid
from collections.abc import Callable
from functools import partial

from ...deployment import Capability, Deployment
from ...pipeline import Measuring
from ..bursts import aim_ms as aim
from ..bursts import together, wait_until
from .observations import KINDS, STALE, Request, UpstreamRun, classify, parse_error_log, parse_ledgers
from .params import Params

#: A probe or warm-up request is fast; it gets this long.
FAST_TIMEOUT_S = 2.0


def measure(m: Measuring[Params]) -> UpstreamRun:
    """One measurement: the keep-alive bursts, the slow GETs, or the ejection probes."""
    deployment, params, kind = m.deployment, m.params, KINDS[m.run]
    if m.configuration == "recommended" and kind != "keepalive":
        settle(deployment, params, m.say)  # the measurement before it may have marked a replica failed
    logs = Capability.LOGS in deployment.capabilities
    log_from = len(deployment.log("proxy")) if logs else 0
    if kind == "keepalive":
        requests = keepalive_bursts(deployment, params, m.say)
    elif kind == "retry":
        requests = slow_gets(deployment, params, m.say)
    else:
        requests = eject(deployment, params, m.say)
    events, tags = parse_error_log(deployment.log("proxy")[log_from:]) if logs else (None, {})
    executions = None
    if Capability.LEDGER in deployment.capabilities:
        ours = {r.tag for r in requests}
        executions = {t: e for t, e in read_ledgers(deployment).items() if t in ours}
    return UpstreamRun(m.configuration, m.run, requests, events, tags, executions)


def read_ledgers(deployment: Deployment) -> dict[str, list[int]]:
    """Every tagged request each replica's handlers ran (one line per execution)."""
    texts = ["".join(p.read_text(encoding="utf-8") for p in sorted(d.glob("ledger-*.jsonl")))
             for d in deployment.ledger_dirs]
    return parse_ledgers(texts)


def _send(deployment: Deployment, request: Request, path: str, timeout_s: float) -> float:
    """Send one GET; fill in what the client saw; return when (monotonic) the answer arrived."""
    started = time.monotonic()
    request.sent_at = time.time()
    result = deployment.entry.get(path, timeout_s=timeout_s)
    request.latency_s, request.status, request.outcome = result.elapsed_s, result.status, classify(result)
    return started + result.elapsed_s


def _tag(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def keepalive_bursts(deployment: Deployment, params: Params, say: Callable[[str], None]) -> list[Request]:
    """Bursts of fast GETs, each sent as the backend's (inverted) keep-alive expires on the
    connections the burst before left idle in nginx's cache: low traffic, paced just above the
    backend's idle timeout. Burst 0 only opens the connections.

    Sequential: it stops once nginx has logged ``keepalive_stop_errors`` failures on connections the
    backend had closed, and otherwise sends every one of ``keepalive_bursts``. A single burst misses
    the race (a fraction of a millisecond wide) about three times in four; so the same bound that
    lets the inverted stack show its errors gives the recommended one as many chances to."""
    gap_s, n = float(params.inverted_gunicorn_keepalive_s), params.keepalive_burst_size
    logs = Capability.LOGS in deployment.capabilities
    log_from = len(deployment.log("proxy")) if logs else 0
    out: list[Request] = []
    anchor: float | None = None
    with concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="drills-burst") as pool:
        for burst in range(params.keepalive_bursts + 1):
            aim_ms = math.nan if anchor is None else aim(burst, params.keepalive_aim_ms, params.keepalive_sweep_ms)
            batch = [Request(_tag("ka"), "paced", 0.0, burst=burst, aim_ms=aim_ms) for _ in range(n)]
            at = None if anchor is None else anchor + gap_s + aim_ms / 1000.0
            answered = together(pool, [partial(_send, deployment, r, f"/healthz?tag={r.tag}", FAST_TIMEOUT_S)
                                        for r in batch], at)
            anchor = min(answered)
            out += batch
            stale = _stale_so_far(deployment, log_from) if logs else 0
            if burst and burst % 4 == 0:
                say(f"  keep-alive: {burst}/{params.keepalive_bursts} bursts of {n}, {gap_s:g} s apart; "
                    f"{stale} met a closed connection")
            if stale >= params.keepalive_stop_errors:
                say(f"  keep-alive: {stale} met a closed connection by burst {burst}: enough, stopping")
                break
    return out


def _stale_so_far(deployment: Deployment, log_from: int) -> int:
    """Failures nginx has logged on connections the backend had closed, since ``log_from``."""
    events, _ = parse_error_log(deployment.log("proxy")[log_from:])
    return sum(events.get(k, 0) for k in STALE)


def slow_gets(deployment: Deployment, params: Params, say: Callable[[str], None]) -> list[Request]:
    """GETs slower than nginx's read timeout, at once; then wait until every execution a retry
    could have started has ended, so the ledger holds them all."""
    slow = [Request(_tag("slow"), "slow", 0.0) for _ in range(params.slow_requests)]
    say(f"  retry: {len(slow)} GETs of {params.slow_work_s:g} s behind a read timeout of "
        f"{params.upstream_read_timeout_s:g} s")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(slow)) as pool:
        together(pool, [partial(_send, deployment, r, f"/work?app_s={params.slow_work_s}&tag={r.tag}",
                                 params.client_timeout_s) for r in slow])
    wait_until(started + params.next_upstream_tries * params.upstream_read_timeout_s + params.slow_work_s + 0.5)
    return slow


def eject(deployment: Deployment, params: Params, say: Callable[[str], None]) -> list[Request]:
    """One slow GET per replica at once, each timing out at nginx's read timeout; then fast probes
    while an ejection would last."""
    slow = [Request(_tag("slow"), "slow", 0.0) for _ in range(params.replicas)]
    say(f"  ejection: {len(slow)} GETs slower than the read timeout, then {params.probes} probes")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(slow)) as pool:
        together(pool, [partial(_send, deployment, r, f"/work?app_s={params.slow_work_s}&tag={r.tag}",
                                 params.client_timeout_s) for r in slow])
    probes = [Request(_tag("probe"), "probe", 0.0) for _ in range(params.probes)]
    for k, probe in enumerate(probes):
        if k:
            time.sleep(params.probe_interval_s)
        _send(deployment, probe, f"/work?tag={probe.tag}", FAST_TIMEOUT_S)
    wait_until(started + params.next_upstream_tries * params.upstream_read_timeout_s + params.slow_work_s + 0.5)
    return slow + probes


def settle(deployment: Deployment, params: Params, say: Callable[[str], None]) -> None:
    """Wait out any ejection, then pass a request to every replica: nginx forgets a server's
    failures on its first success after fail_timeout."""
    say(f"  settling {params.settle_s:g} s: an ejection lasts up to fail_timeout + 1 s")
    time.sleep(params.settle_s)
    for _ in range(2 * params.replicas):
        deployment.entry.get("/healthz", timeout_s=FAST_TIMEOUT_S)
