"""Judging the rolling-restart drill: every hypothesis, from the measurements each configuration took.

A measurement that did not run, or whose records could not be read, leaves its hypotheses
inconclusive, never held; so does one that did not exercise what its claim is about (too little
load in a restart, no request in flight across SIGTERM).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from ...stats import share
from .observations import RestartRecord, RollingRun
from .params import Params

#: Requests sent around each restart that belong to it (seconds before the deletion, after the put-back).
WINDOW_MARGIN_S = 0.5
#: A run whose client sent less than this share of its schedule inside the windows did not load them.
MIN_SENT_SHARE = 0.8
#: More late requests than this share: the bounded client could not keep its schedule.
MAX_LATE_SHARE = 0.05
#: A request sent this soon after SIGTERM may still have met the listener open (Uvicorn's 0.1 s tick).
LISTENER_CLOSE_S = 0.2


def judge(params: Params, runs: Mapping[str, RollingRun]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    drain = runs.get("recommended-drain")
    return [
        no_errors(params, runs.get("recommended-rolling")),
        upstream_failures(params, runs.get("no-prestop")),
        in_flight_complete(params, drain),
        pool_closes_after_last_request(params, drain),
        beyond_graceful_cut(params, drain),
        exits_within_grace(params, drain),
        keepalive_ordered(runs.get("recommended-keepalive")),
        stale_posts_fail(runs.get("keepalive-inverted")),
    ]


def restart_window(r: RestartRecord) -> tuple[float, float]:
    return r.deleted_at - WINDOW_MARGIN_S, r.back_live_at + WINDOW_MARGIN_S


def _in_windows(run: RollingRun) -> list[dict[str, Any]]:
    windows = [restart_window(r) for r in run.restarts]
    return [s for s in run.sent if any(lo <= s["due_at"] <= hi for lo, hi in windows)]


def kind_of(sent: dict[str, Any]) -> str:
    status = sent.get("status")
    if status is not None and 200 <= status < 300:
        return "ok"
    return f"http-{status}" if status is not None else str(sent.get("failure") or "unknown")


def _by_restart(run: RollingRun) -> str:
    """Per restart: client errors by kind, method and phase; nginx's failed attempts by kind and port."""
    parts = []
    for r in run.restarts:
        lo, hi = restart_window(r)
        mine = [s for s in run.sent if lo <= s["due_at"] <= hi]
        errors = Counter(f"{kind_of(s)} {s['method']} ({r.phase(s['due_at'])})" for s in mine if kind_of(s) != "ok")
        tags = {s["tag"] for s in mine}
        nginx = Counter(f"{e.event}{'' if e.port == r.port else ' (other replica)'}"
                        for e in run.nginx or [] if e.tag in tags)
        parts.append(f"replica {r.replica}: {len(mine)} requests, client errors {dict(errors) or 'none'}, nginx "
                     f"{dict(nginx) or 'nothing'}, SIGTERM → exit {r.exited_at - r.sigterm_at:.2f} s, drop live "
                     f"{r.dropped_live_at - r.deleted_at:+.2f} s / SIGTERM {r.sigterm_at - r.deleted_at:+.2f} s "
                     f"after the deletion")
    return "; ".join(parts)


def no_errors(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-rolling.no-errors",
        "With the proxy dropping each replica before its SIGTERM (the preStop sleep covering the endpoint lag), a "
        "rolling restart under steady load fails no request: nginx logs no failed upstream attempt and the client "
        "gets no error.",
        AtMost(0, "errors"), recommended=True, min_samples=1)
    if run is None or run.nginx is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    sent = _in_windows(run)
    detail = _by_restart(run)
    planned = params.load_rps * sum(hi - lo for lo, hi in map(restart_window, run.restarts))
    late = sum(bool(s["late"]) for s in sent)
    if len(run.restarts) < params.replicas or len(sent) < MIN_SENT_SHARE * planned:
        return hypothesis.inconclusive(None, len(sent), f"{len(run.restarts)}/{params.replicas} restarts, "
                                       f"{len(sent)} of {planned:.0f} scheduled requests sent: not loaded. {detail}")
    if late > MAX_LATE_SHARE * len(sent):
        return hypothesis.inconclusive(None, len(sent), f"{late} requests left late: the client could not keep "
                                       f"its schedule. {detail}")
    client = sum(kind_of(s) != "ok" for s in sent)
    failed = len(run.failed_attempts())
    return hypothesis.judge(float(client + failed), len(sent),
                            f"{client} client errors, {failed} failed upstream attempts logged; {detail}")


def upstream_failures(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "no-prestop.upstream-failures",
        "Without the preStop sleep, every restart sends requests to a replica that has stopped listening: nginx "
        "logs failed attempts on it (each a 502 behind a proxy that resends nothing, such as the ALB).",
        AtLeast(100, "%"), recommended=False, min_samples=params.replicas)
    if run is None or run.nginx is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    detail = _by_restart(run)
    measured, hit = 0, 0
    for r in run.restarts:
        # The load must have reached the proxy while it still listed the replica, after the moment its
        # listener would be closed had SIGTERM come with the deletion: measured the same way whatever the
        # stack did (with a preStop sleep the replica still listened then, and nothing failed).
        listed = [s for s in run.sent if r.deleted_at + LISTENER_CLOSE_S <= s["due_at"] <= r.dropped_live_at]
        if len(listed) < params.min_gap_requests:
            continue  # too little traffic while it was listed to test anything
        measured += 1
        hit += bool(run.failed_attempts(r.port))
    resent = sum(kind_of(s) == "ok" for s in run.sent if s["tag"] in {e.tag for e in run.failed_attempts()})
    return hypothesis.judge(share(hit, measured), measured,
                            f"{hit}/{measured} restarts (of {len(run.restarts)} with ≥ {params.min_gap_requests} "
                            f"requests sent while the proxy still listed the replica, from {LISTENER_CLOSE_S:g} s after "
                            f"its deletion) met failed attempts on the stopping replica; "
                            f"{resent} of the requests concerned still got 200 (nginx resent them); {detail}")


def _drain_restart(run: RollingRun, replica: int) -> RestartRecord | None:
    return next((r for r in run.restarts if r.replica == replica), None)


def _began_on(run: RollingRun, r: RestartRecord, role: str) -> list[tuple[dict[str, Any], Any]]:
    """(begin record, request) of every ``role`` request that began on the restarted replica's old
    workers before its SIGTERM: the ones that crossed it."""
    requests = {q.tag: q for q in run.drain if q.role == role}
    return [(b, requests[b["tag"]]) for b in run.inflight or []
            if b["event"] == "begin" and b["tag"] in requests and b["pid"] in r.old_workers and b["at"] < r.sigterm_at]


def in_flight_complete(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-drain.in-flight-complete",
        "A request in flight at SIGTERM that ends within graceful_timeout completes: the client gets its 200, and "
        "the old worker ran its database query and ended it after SIGTERM.",
        AtLeast(100, "%"), recommended=True, min_samples=2 * params.drain_repeats)
    r = None if run is None else _drain_restart(run, 0)
    if run is None or r is None or run.inflight is None:
        return hypothesis.judge(None, 0, "not measured, or the workers' records not readable")
    crossed = _began_on(run, r, "within")
    done = []
    for begin, request in crossed:
        end = next((e for e in run.ends(begin["pid"]) if e["tag"] == begin["tag"]), None)
        done.append(request.status == 200 and end is not None and end["outcome"] == "ok"
                    and (end["queried_at"] or 0) > r.sigterm_at and end["at"] > r.sigterm_at)
    outcomes = Counter(f"{q.method} {q.status or q.failure}" for _, q in crossed)
    return hypothesis.judge(share(sum(done), len(done)), len(done),
                            f"{sum(done)}/{len(done)} 'within' requests on replica 0 completed across SIGTERM "
                            f"(client: {dict(outcomes)}); SIGTERM → exit {r.exited_at - r.sigterm_at:.2f} s")


def pool_closes_after_last_request(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-drain.pool-closes-after-last-request",
        "A worker closes its pool only after its last request has ended, and PostgreSQL sees the worker's "
        "sessions end only then.",
        AtLeast(0, "s"), recommended=True, min_samples=1)
    r = None if run is None else _drain_restart(run, 0)
    if run is None or r is None or run.inflight is None or run.lifecycle is None or run.disconnections is None:
        return hypothesis.judge(None, 0, "not measured, or the workers' or PostgreSQL's records not readable")
    margins, parts = [], []
    for pid in r.old_workers:
        ends = [e["at"] for e in run.ends(pid)]
        closed = run.life(pid).get("pool-closed")
        sessions = [d["at"] for d in run.disconnections if d["application_name"] == f"drills-service-{pid}"]
        if not ends or closed is None or not sessions:
            parts.append(f"worker {pid}: {len(ends)} requests, pool closed {closed is not None}, "
                         f"{len(sessions)} sessions logged: not judged")
            continue
        last = max(ends)
        # PostgreSQL logs milliseconds (truncated): a session that ended with the request can read 1 ms early.
        margin = min(closed - last, min(sessions) - last + 0.001)
        margins.append(margin)
        parts.append(f"worker {pid}: pool closed {(closed - last) * 1000:+.1f} ms and its {len(sessions)} sessions "
                     f"ended {(min(sessions) - last) * 1000:+.0f}…{(max(sessions) - last) * 1000:+.0f} ms after its "
                     f"last request")
    return hypothesis.judge(min(margins) if margins else None, len(margins), "; ".join(parts))


def beyond_graceful_cut(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-drain.beyond-graceful-cut",
        "A request still running when graceful_timeout expires is cut: Gunicorn SIGKILLs the worker, the handler "
        "never ends, the client's connection closes without a response, and the worker never closes its pool.",
        AtLeast(100, "%"), recommended=False, min_samples=2 * params.drain_repeats)
    r = None if run is None else _drain_restart(run, 1)
    if run is None or r is None or run.inflight is None or run.lifecycle is None:
        return hypothesis.judge(None, 0, "not measured, or the workers' records not readable")
    crossed = _began_on(run, r, "beyond")
    cut = [not any(e["tag"] == b["tag"] for e in run.ends(b["pid"])) and q.status is None
           and "shutdown-begin" not in run.life(b["pid"]) for b, q in crossed]
    outcomes = Counter(f"{q.method} {q.status or q.failure}" for _, q in crossed)
    return hypothesis.judge(share(sum(cut), len(cut)), len(cut),
                            f"{sum(cut)}/{len(cut)} 'beyond' requests cut (client: {dict(outcomes)}); SIGTERM → "
                            f"exit {r.exited_at - r.sigterm_at:.2f} s (graceful_timeout {params.graceful_timeout_s} s)")


def exits_within_grace(params: Params, run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-drain.exits-within-grace",
        "With preStop + graceful_timeout ≤ terminationGracePeriodSeconds, a replica still busy at graceful_timeout "
        "exits by Gunicorn's own timer, before the kubelet's SIGKILL.",
        AtLeast(100, "%"), recommended=True, min_samples=2)
    if run is None or not run.restarts:
        return hypothesis.judge(None, 0, "not measured")
    own = [not r.killed and r.exited_at - r.deleted_at <= params.termination_grace_s for r in run.restarts]
    detail = "; ".join(f"replica {r.replica}: deletion → exit {r.exited_at - r.deleted_at:.2f} s, SIGTERM → exit "
                       f"{r.exited_at - r.sigterm_at:.2f} s{', SIGKILLed at the grace period' if r.killed else ''}"
                       for r in run.restarts)
    return hypothesis.judge(share(sum(own), len(own)), len(own),
                            f"{sum(own)}/{len(own)} exited by themselves (preStop {params.pre_stop_s:g} s + "
                            f"graceful_timeout {params.graceful_timeout_s} s ≤ grace {params.termination_grace_s:g} s); "
                            f"{detail}")


def _paced_detail(run: RollingRun) -> tuple[list[Any], str]:
    paced = [q for q in run.drain if q.role == "paced" and q.burst > 0]
    stale = run.stale_tags()
    seen = Counter(str(q.status or q.failure) for q in paced if q.tag in stale)
    errors = Counter(str(q.status or q.failure) for q in paced if q.status != 200)
    events = Counter(e.event for e in run.nginx or [] if e.tag in stale)
    return paced, (f"{len(stale)} of {len(paced)} paced POSTs met a connection the backend had closed "
                   f"(nginx: {dict(events) or 'nothing'}); of those the client got {dict(seen) or '{}'}; client "
                   f"errors {dict(errors) or '{}'} over {max((q.burst for q in paced), default=0)} bursts")


def keepalive_ordered(run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-keepalive.no-stale-errors",
        "With nginx's upstream keepalive_timeout below Gunicorn's keep-alive, POSTs paced at the inverted idle "
        "timeout never meet a closed upstream connection: no stale connection logged, no error at the client.",
        AtMost(0, "errors"), recommended=True)
    if run is None or run.nginx is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    paced, detail = _paced_detail(run)
    errors = len(run.stale_tags()) + sum(q.status != 200 for q in paced)
    return hypothesis.judge(float(errors), len(paced), detail)


def stale_posts_fail(run: RollingRun | None) -> Finding:
    hypothesis = Hypothesis(
        "keepalive-inverted.stale-posts-fail",
        "With Gunicorn's keep-alive below nginx's, a POST that nginx sends on a connection the backend is closing "
        "reaches the client as a 502: nginx does not resend a POST it has sent.",
        AtLeast(1, "POSTs"), recommended=False)
    if run is None or run.nginx is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    paced, detail = _paced_detail(run)
    stale = run.stale_tags()
    failed = sum(q.tag in stale and q.status == 502 for q in paced)
    return hypothesis.judge(float(failed), len(paced), f"{failed} stale POSTs answered 502; {detail}")
