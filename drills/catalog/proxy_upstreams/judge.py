"""Judging the proxy-upstreams drill: every hypothesis, from the measurements each configuration took.

A measurement that did not run, or whose logs or ledger could not be read, leaves its hypotheses
inconclusive (no samples), never held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from ...stats import share, span
from .observations import STALE, UpstreamRun
from .params import Params


def judge(params: Params, runs: Mapping[str, UpstreamRun]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    return [
        keepalive_ordered(runs.get("recommended-keepalive")),
        runs_once(params, runs.get("recommended-retry")),
        ejects_nothing(params, runs.get("recommended-eject")),
        keepalive_inverted(runs.get("keepalive-inverted")),
        runs_twice(params, runs.get("retry-timeout")),
        no_live_upstreams(params, runs.get("max-fails-1")),
    ]


def _events(run: UpstreamRun) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted((run.log_events or {}).items())) or "none"


def _stale_detail(run: UpstreamRun) -> str:
    """What met a closed connection, and what the client saw of it: retried by nginx, or an error."""
    paced = run.of("paced")
    stale = run.stale_tags()
    seen = Counter(r.outcome for r in paced if r.tag in stale)
    failed = Counter(r.outcome for r in paced if r.outcome != "ok")
    by_kind = {k: (run.log_events or {}).get(k, 0) for k in STALE}
    return (f"{len(stale)} of {len(paced)} paced GETs met a connection the backend had closed "
            f"(nginx: {', '.join(f'{k} {v}' for k, v in by_kind.items())}); of those the client got "
            f"{dict(seen) or '{}'} (ok = nginx resent it on a new connection); client errors "
            f"{dict(failed) or '{}'}")


def keepalive_ordered(run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended.keepalive-no-stale-errors",
        "With nginx's upstream keepalive_timeout below Gunicorn's keep-alive, traffic paced at the backend's "
        "inverted idle timeout never meets a closed upstream connection: no error logged, none at the client.",
        AtMost(0, "errors"), recommended=True)
    if run is None or run.log_events is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    paced = run.of("paced")
    client_errors = sum(r.outcome != "ok" for r in paced)
    stale = run.stale_errors() or 0
    return hypothesis.judge(float(stale + client_errors), len(paced), _stale_detail(run))


def keepalive_inverted(run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "keepalive-inverted.stale-connection-errors",
        "With Gunicorn's keep-alive below nginx's, traffic paced just above the backend's idle timeout "
        "meets connections the backend has closed: nginx logs the failures (and resends a GET).",
        AtLeast(1, "errors"), recommended=False)
    if run is None or run.log_events is None:
        return hypothesis.judge(None, 0, "not measured, or nginx's log not readable")
    return hypothesis.judge(float(run.stale_errors() or 0), len(run.of("paced")), _stale_detail(run))


def _executions(params: Params, run: UpstreamRun) -> tuple[list[list[int]], str]:
    slow = run.of("slow")
    execs = [(run.executions or {}).get(r.tag, []) for r in slow]
    detail = (f"executions per slow GET {[len(e) for e in execs]} on replicas {execs}; the client got "
              f"{', '.join(f'{r.outcome} after {r.latency_s:.2f} s' for r in slow) or 'nothing'} "
              f"(read timeout {params.upstream_read_timeout_s:g} s, work {params.slow_work_s:g} s); nginx: {_events(run)}")
    return execs, detail


def runs_once(params: Params, run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended.slow-get-runs-once",
        "With proxy_next_upstream error, a GET that outlasts nginx's read timeout gets its 504 and runs once.",
        AtLeast(100, "%"), recommended=True)
    if run is None or run.executions is None:
        return hypothesis.judge(None, 0, "not measured, or the service's ledger not readable")
    execs, detail = _executions(params, run)
    once = sum(len(e) == 1 for e in execs)
    return hypothesis.judge(share(once, len(execs)), len(execs), f"{once}/{len(execs)} ran once; {detail}")


def runs_twice(params: Params, run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "retry-timeout.slow-get-runs-twice",
        "With proxy_next_upstream error timeout, nginx resends a GET that outlasts its read timeout to the next "
        "replica: the work runs once per try, and the client waits every try's timeout for its 504.",
        AtLeast(100, "%"), recommended=False)
    if run is None or run.executions is None:
        return hypothesis.judge(None, 0, "not measured, or the service's ledger not readable")
    execs, detail = _executions(params, run)
    tries = params.next_upstream_tries
    each = sum(len(e) == tries and len(set(e)) == tries for e in execs)
    return hypothesis.judge(share(each, len(execs)), len(execs),
                            f"{each}/{len(execs)} ran {tries}× on {tries} replicas; {detail}")


def _probe_detail(run: UpstreamRun) -> tuple[Counter[int], str]:
    probes = run.of("probe")
    served = Counter(rep for r in probes for rep in (run.executions or {}).get(r.tag, []))
    outcomes = Counter(r.outcome for r in probes)
    return served, (f"probes {dict(outcomes)} within {span([r.latency_s for r in probes])}; "
                    f"served by replica {dict(sorted(served.items()))}; slow GETs "
                    f"{', '.join(f'{r.outcome} after {r.latency_s:.2f} s' for r in run.of('slow'))}; nginx: {_events(run)}")


def ejects_nothing(params: Params, run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended.slow-request-ejects-nothing",
        f"With max_fails={params.max_fails}, one request per replica that times out ejects no replica: the probes "
        "right after are answered by every replica.",
        AtLeast(params.replicas, "replicas"), recommended=True)
    if run is None or run.executions is None or run.log_events is None:
        return hypothesis.judge(None, 0, "not measured, or the ledger or nginx's log not readable")
    served, detail = _probe_detail(run)
    in_rotation = sum(1 for n in served.values() if n > 0)
    return hypothesis.judge(float(in_rotation), len(run.of("probe")), f"{in_rotation} replicas answered; {detail}")


def no_live_upstreams(params: Params, run: UpstreamRun | None) -> Finding:
    hypothesis = Hypothesis(
        "max-fails-1.no-live-upstreams",
        "With max_fails=1, one timed-out request per replica marks every replica down for fail_timeout: nginx "
        "answers each probe with an immediate 502 (\"no live upstreams\"), sending it to no replica.",
        AtLeast(100, "%"), recommended=False)
    if run is None or run.executions is None or run.log_events is None:
        return hypothesis.judge(None, 0, "not measured, or the ledger or nginx's log not readable")
    probes = run.of("probe")
    refused = set(run.log_tags.get("no-live", []))
    turned_away = [r for r in probes if r.outcome == "proxy-502" and r.tag in refused
                   and not (run.executions or {}).get(r.tag)]
    _, detail = _probe_detail(run)
    return hypothesis.judge(share(len(turned_away), len(probes)), len(probes),
                            f"{len(turned_away)}/{len(probes)} got nginx's 502 with \"no live upstreams\" "
                            f"logged (fail_timeout {params.fail_timeout_s} s); {detail}")
