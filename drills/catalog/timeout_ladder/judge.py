"""Judging the timeout-ladder drill: every hypothesis, from the requests each configuration sent.

Each configuration has its own function; a configuration that did not run leaves its hypotheses
inconclusive (judged on no samples), never held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from ...stats import share, span
from .ladder import Ladder
from .observations import LadderRun, Observation
from .params import ARBITER_TICK_S, MIN_HEARTBEAT_REQUESTS, FlaskParams, LadderParams, Params

#: uvicorn's main loop runs its housekeeping, the heartbeat to Gunicorn included, every 0.1 s.
UVICORN_TICK_S = 0.1


def judge(params: LadderParams, runs: Mapping[str, LadderRun]) -> list[Finding]:
    """Every hypothesis of the drill for its framework, in the paper's order: the ladder's and the
    inverted ladder's are shared; the heartbeat's differ (Uvicorn workers: ``judge_heartbeat``;
    sync and gthread workers: ``judge_sync_heartbeat``, ``judge_gthread``), and on sync workers
    Gunicorn's timeout is a rung of the recommended ladder."""
    if isinstance(params, FlaskParams):
        return [*judge_recommended(params, runs), judge_worker_timeout(params, runs), *judge_inverted(params, runs),
                *judge_sync_heartbeat(params, runs), judge_gthread(params, runs)]
    assert isinstance(params, Params)
    return [*judge_recommended(params, runs), *judge_inverted(params, runs), *judge_heartbeat(params, runs)]


def _requests(runs: Mapping[str, LadderRun], configuration: str) -> list[Observation]:
    run = runs.get(configuration)
    return run.observations if run else []


def _log_count(runs: Mapping[str, LadderRun], configuration: str, name: str) -> int:
    run = runs.get(configuration)
    return getattr(run.evidence, name) if run and run.evidence else 0


def on_time(hypothesis: Hypothesis, observations: list[Observation], layer: str, params: LadderParams) -> Finding:
    """Share of requests predicted to be cut by ``layer`` that were, within tolerance of the time."""
    expected = [o for o in observations if o.expected == layer]
    good, deviations, wrong = 0, [], Counter[str]()
    for o in expected:
        deviation = o.latency_s - o.expected_at_s
        if o.outcome == layer:
            deviations.append(deviation)
            good += abs(deviation) <= params.tolerance_s(o.expected_at_s)
        else:
            wrong[o.outcome] += 1
    worst = max(deviations, key=abs) if deviations else None
    tol = sorted({round(params.tolerance_s(o.expected_at_s) * 1000) for o in expected})
    detail = (
        f"{good}/{len(expected)} answered by {layer} within ±{'/'.join(map(str, tol)) or '?'} ms of "
        f"{span(sorted({o.expected_at_s for o in expected}))}"
        + (f"; worst deviation {worst * 1000:+.0f} ms" if worst is not None else "")
        + (f"; answered by another layer: {dict(wrong)}" if wrong else "")
    )
    return hypothesis.judge(share(good, len(expected)), len(expected), detail)


def innermost_layer(o: Observation, ladder: Ladder) -> str:
    """The layer that should cut ``o`` if the ladder is in order: the predicted one, except that
    a proxy or client cut of work that already crossed an inner rung means the ladder failed."""
    if o.expected in ("proxy-504", "client-timeout"):
        if o.db_s > ladder.statement_timeout_s:
            return "database"
        if o.app_s + o.db_s > ladder.request_budget_s:
            return "app"
    return o.expected


def judge_recommended(params: LadderParams, runs: Mapping[str, LadderRun]) -> list[Finding]:
    """The ladder in order: each rung answers on time, the innermost first, no proxy error, no
    query outliving its request (sightings every sample_interval_s: that is the resolution)."""
    rec = _requests(runs, "recommended")
    resolution_ms = params.sample_interval_s * 1000
    findings: list[Finding] = []
    findings.append(on_time(Hypothesis(
        "recommended.statement-timeout-on-time",
        "A query that runs past statement_timeout is cancelled by PostgreSQL on time, and the client gets "
        "the app's 504 naming the database (SQLSTATE 57014).",
        AtLeast(100, "%"), recommended=True), rec, "database", params))
    findings.append(on_time(Hypothesis(
        "recommended.budget-on-time",
        "A request whose work runs past the app's request budget is answered by the app with a 504 at the "
        "budget.", AtLeast(100, "%"), recommended=True), rec, "app", params))

    valid = [o for o in rec if o.expected == "ok"]
    answered = [o for o in valid if o.outcome == "ok"]
    findings.append(Hypothesis(
        "recommended.valid-requests-succeed",
        "Every request whose work fits inside every rung gets its 200: no rung, pool or proxy cuts a valid "
        "request.", AtLeast(100, "%"), recommended=True,
    ).judge(share(len(answered), len(valid)), len(valid),
            f"{len(answered)}/{len(valid)} answered 200; outcomes "
            f"{dict(Counter(f'{o.placement} {o.delay_s:g} s: {o.outcome}' for o in valid if o.outcome != 'ok'))}"))

    crossed = [o for o in rec if o.expected != "ok"]
    ladder = params.ladder("recommended")
    innermost = {id(o): innermost_layer(o, ladder) for o in crossed}
    first = sum(o.outcome == innermost[id(o)] for o in crossed)
    misses = Counter(f"{innermost[id(o)]}→{o.outcome}" for o in crossed if o.outcome != innermost[id(o)])
    findings.append(Hypothesis(
        "recommended.innermost-first",
        "Every request that crossed a rung was cut by the innermost layer it crossed.",
        AtLeast(100, "%"), recommended=True,
    ).judge(share(first, len(crossed)), len(crossed),
            f"{first}/{len(crossed)} cut by the predicted layer" + (f"; misses: {dict(misses)}" if misses else "")))

    proxy_errors = [o for o in rec if o.outcome.startswith(("proxy-", "client-", "connection-"))]
    findings.append(Hypothesis(
        "recommended.no-proxy-errors",
        "Under the recommended ladder no request ends in a proxy 502/504 or a client timeout.",
        AtMost(0, "requests"), recommended=True,
    ).judge(float(len(proxy_errors)), len(rec),
            f"{len(proxy_errors)} of {len(rec)} requests; outcomes {dict(Counter(o.outcome for o in rec))}"))

    seen = [o for o in rec if o.query_outlived_s is not None]
    worst_query = max((o.query_outlived_s or 0.0 for o in seen), default=None)
    handler_left = [o.handler_outlived_s for o in rec if o.handler_outlived_s is not None]
    findings.append(Hypothesis(
        "recommended.no-orphan-queries",
        "No query keeps running after the client has its answer.",
        AtMost(resolution_ms, "ms", tolerance=params.tolerance_ms), recommended=True,
    ).judge(None if worst_query is None else worst_query * 1000, len(seen),
            f"{len(seen)} queries sampled every {resolution_ms:g} ms; longest still running after the response: "
            f"{span([o.query_outlived_s or 0.0 for o in seen])}; handlers ran on {span(handler_left)}"))

    return findings


def judge_inverted(params: LadderParams, runs: Mapping[str, LadderRun]) -> list[Finding]:
    """The proxy's read timeout below statement_timeout: nginx's 504 first, the query running on."""
    inv = _requests(runs, "inverted")
    findings: list[Finding] = []
    findings.append(on_time(Hypothesis(
        "inverted.proxy-504",
        "With the proxy's read timeout below statement_timeout, the client gets nginx's 504 at the proxy "
        "read timeout.", AtLeast(100, "%"), recommended=False), inv, "proxy-504", params))

    # Every query the inverted ladder predicts nginx answers for: each must get the 504 and run on.
    # Judged on the prediction, not on the 504s that happened, so a stack that cut the queries in
    # time (no 504 at all) fails the claim instead of leaving it without samples.
    orphans = [o for o in inv if o.placement == "db" and o.expected == "proxy-504"]
    kept = []
    for o in orphans:
        # It ran on until it completed or statement_timeout cancelled it; sightings are a lower
        # bound, up to one sampling interval early.
        expected_s = min(o.db_s, params.inverted_statement_timeout_s) - o.expected_at_s
        ran_on, tol = o.query_outlived_s or 0.0, params.tolerance_s(expected_s)
        kept.append(o.outcome == "proxy-504"
                    and expected_s - params.sample_interval_s - tol <= ran_on <= expected_s + tol)
    outcomes = dict(Counter(o.outcome for o in orphans))
    findings.append(Hypothesis(
        "inverted.orphan-queries",
        "Under the inverted ladder the query keeps running after the client's 504, until it completes or "
        "statement_timeout cancels it.", AtLeast(100, "%"), recommended=False,
    ).judge(share(sum(kept), len(orphans)), len(orphans),
            f"{sum(kept)}/{len(orphans)} queries predicted to outlive nginx's 504 did; answers {outcomes}; they ran on "
            f"{span([o.query_outlived_s or 0.0 for o in orphans])} after the answer "
            f"(predicted {span([min(o.db_s, params.inverted_statement_timeout_s) - o.expected_at_s for o in orphans])}); "
            f"nginx logged {_log_count(runs, 'inverted', 'upstream_timeouts')} upstream timeouts"))

    return findings


def _blocked_attempts(o: Observation, low_s: float) -> int:
    """The attempts nginx made that blocked until the heartbeat's kill: one per start of the blocking
    call the service recorded; without its records, the attempts that took the window's lower edge
    (one, where not logged)."""
    if o.killed_after_s is not None:
        return len(o.killed_after_s)
    if not o.attempt_s:
        return 1
    return max(1, sum(1 for t in o.attempt_s if t >= low_s))


def _killed_on_time(o: Observation, low_s: float, high_s: float) -> bool:
    """Each attempt that blocked ended within the window of its own start (from the service's
    records); without them, the client's wait within the window once per such attempt."""
    if o.killed_after_s is not None:
        return bool(o.killed_after_s) and all(low_s <= t <= high_s for t in o.killed_after_s)
    kills = _blocked_attempts(o, low_s)
    return kills * low_s <= o.latency_s <= kills * high_s


def _block_text(o: Observation) -> str:
    tries = (f" (nginx sent it {len(o.attempt_s)}×: {', '.join(f'{t:.2f}' for t in o.attempt_s)} s)"
             if o.attempt_s and len(o.attempt_s) > 1 else "")
    kills = (f", killed {', '.join(f'{t:.2f}' for t in o.killed_after_s)} s after it started blocking"
             if o.killed_after_s else "")
    return f"{o.outcome} after {o.latency_s:.2f} s{tries}{kills}"


def judge_heartbeat(params: Params, runs: Mapping[str, LadderRun]) -> list[Finding]:
    """Gunicorn's timeout under Uvicorn workers: not a rung for an awaited query; a blocked loop is
    killed (a 502 between timeout/2 − 0.1 s and timeout + 1 s, and WORKER TIMEOUT in Gunicorn's log)."""
    hb = _requests(runs, "heartbeat")
    findings: list[Finding] = []
    awaits = [o for o in hb if o.placement == "await"]
    survived = [o for o in awaits if o.outcome == "ok" and o.latency_s >= o.db_s - params.tolerance_s(o.db_s)]
    findings.append(Hypothesis(
        "heartbeat.slow-await-survives",
        "An awaited query longer than Gunicorn's timeout completes: for Uvicorn workers that timeout bounds "
        "a blocked event loop, not a request.", AtLeast(100, "%"), recommended=False,
        min_samples=MIN_HEARTBEAT_REQUESTS,
    ).judge(share(len(survived), len(awaits)), len(awaits),
            f"{len(survived)}/{len(awaits)} got 200 after {span([o.latency_s for o in awaits], 1, 's')} "
            f"with Gunicorn timeout {params.gunicorn_timeout_s} s"))

    blocks = [o for o in hb if o.placement == "block"]
    # The worker reports in every timeout/2 (Gunicorn hands its workers half the timeout), checked
    # on uvicorn's 0.1 s tick; the master kills once timeout has passed since the last report. So
    # the kill lands from timeout/2 − one tick after the block starts (measured: 0.45 s at a 1 s
    # timeout) to timeout + 1 s (the master's sleep). nginx with `proxy_next_upstream error` sends
    # a request again when its kept-alive upstream connection fails (nginx grants that extra try even
    # with a single upstream): a resent block kills another worker, so the window is per attempt that
    # blocked, from the moment that attempt's handler started blocking (the service records it: a
    # resend may first wait in the listen queue while the master boots a replacement worker); an
    # attempt on a connection the killed worker had left in nginx's cache fails at once and kills
    # nothing.
    low = params.gunicorn_timeout_s / 2 - UVICORN_TICK_S - params.tolerance_s(params.gunicorn_timeout_s / 2)
    high = params.gunicorn_timeout_s + 1 + params.tolerance_s(params.gunicorn_timeout_s + 1)
    killed_in_log = _log_count(runs, "heartbeat", "worker_timeouts")
    # A 502 in its window counts only as far as Gunicorn logged a kill for each attempt that blocked.
    killed, kills_left = [], killed_in_log
    for o in blocks:
        kills = _blocked_attempts(o, low)
        if o.outcome == "proxy-502" and _killed_on_time(o, low, high) and kills_left >= kills:
            killed.append(o)
            kills_left -= kills
    resent = [o for o in blocks if _blocked_attempts(o, low) > 1]
    findings.append(Hypothesis(
        "heartbeat.blocked-loop-killed",
        "A blocking call in the event loop longer than Gunicorn's timeout gets the worker killed (WORKER "
        "TIMEOUT), and the client sees nginx's 502 — after another worker is killed each time nginx resends the "
        "request (proxy_next_upstream error retries a kept-alive connection that failed).", AtLeast(100, "%"),
        recommended=False, min_samples=MIN_HEARTBEAT_REQUESTS,
    ).judge(share(len(killed), len(blocks)), len(blocks),
            f"{len(killed)}/{len(blocks)} got a 502, each attempt that blocked killed within {low:.2f}–{high:.2f} s "
            f"of its start (timeout/2 − tick … timeout + 1 s); "
            f"observed {', '.join(_block_text(o) for o in blocks) or 'nothing'}; "
            f"Gunicorn logged WORKER TIMEOUT {killed_in_log}×; resent to another worker {len(resent)}/{len(blocks)}"))
    return findings


# -- Gunicorn's timeout on sync and gthread workers (Flask, Django) ---------------------------------


def aborted(observations: list[Observation], timeout_s: float, params: LadderParams,
            worker_timeouts: int) -> tuple[list[Observation], float, float]:
    """The requests a sync worker's abort answered: Gunicorn's own 500 from ``timeout_s`` to the
    master's next pass (``timeout_s`` + 1 s), each with a WORKER TIMEOUT in Gunicorn's log; and
    that window. The worker reports in just before it accepts a request, so no abort comes earlier."""
    low = timeout_s - params.tolerance_s(timeout_s)
    high = timeout_s + ARBITER_TICK_S + params.tolerance_s(timeout_s + ARBITER_TICK_S)
    cut = [o for o in observations if o.outcome == "worker-timeout" and low <= o.latency_s <= high]
    return cut[:worker_timeouts], low, high


def _outcomes_text(observations: list[Observation]) -> str:
    return ", ".join(f"{o.outcome} after {o.latency_s:.2f} s" for o in observations) or "nothing"


def judge_worker_timeout(params: FlaskParams, runs: Mapping[str, LadderRun]) -> Finding:
    """Sync workers: a handler stuck where the budget cannot cut it is ended by Gunicorn's rung,
    before the proxy's read timeout."""
    timeout_s = float(params.sync_timeout_s)
    blocks = [o for o in _requests(runs, "recommended") if o.placement == "block" and o.expected == "worker-timeout"]
    logged, killed = _log_count(runs, "recommended", "worker_timeouts"), _log_count(runs, "recommended", "worker_kills")
    cut, low, high = aborted(blocks, timeout_s, params, logged)
    delays = ", ".join(f"{d:g}" for d in sorted({o.delay_s for o in blocks}))
    return Hypothesis(
        "recommended.worker-timeout-on-time",
        "On sync workers Gunicorn's timeout is a rung between the request budget and the proxy: a handler blocked "
        "where the budget cannot cut it is aborted, and the client gets Gunicorn's own 500 before the proxy's read "
        "timeout.", AtLeast(100, "%"), recommended=True,
    ).judge(share(len(cut), len(blocks)), len(blocks),
            f"{len(cut)}/{len(blocks)} blocked handlers ({delays} s) got Gunicorn's "
            f"500 within {low:.2f}–{high:.2f} s (timeout {params.sync_timeout_s} s … + the master's 1 s pass; proxy "
            f"{params.proxy_read_timeout_s:g} s); observed {_outcomes_text(blocks)}; Gunicorn logged WORKER TIMEOUT "
            f"{logged}×, SIGKILL {killed}×")


def judge_sync_heartbeat(params: FlaskParams, runs: Mapping[str, LadderRun]) -> list[Finding]:
    """Sync workers: Gunicorn's timeout aborts a request in the middle (its 500, not a 502), and the
    query the worker was running is cancelled with it (psycopg cancels on the SystemExit)."""
    hb = _requests(runs, "heartbeat")
    timeout_s = float(params.gunicorn_timeout_s)
    logged = _log_count(runs, "heartbeat", "worker_timeouts")
    blocks = [o for o in hb if o.placement == "block"]
    cut_blocks, low, high = aborted(blocks, timeout_s, params, logged)
    findings = [Hypothesis(
        "heartbeat.sync-request-cut",
        "On sync workers Gunicorn's timeout aborts a request in the middle: the client gets Gunicorn's own 500 "
        "(not nginx's 502) between the timeout and the master's next pass, and WORKER TIMEOUT is logged.",
        AtLeast(100, "%"), recommended=True, min_samples=MIN_HEARTBEAT_REQUESTS,
    ).judge(share(len(cut_blocks), len(blocks)), len(blocks),
            f"{len(cut_blocks)}/{len(blocks)} blocking handlers of {params.heartbeat_block_s:g} s got Gunicorn's 500 "
            f"within {low:.2f}–{high:.2f} s; observed {_outcomes_text(blocks)}; Gunicorn logged WORKER TIMEOUT "
            f"{logged}×, SIGKILL {_log_count(runs, 'heartbeat', 'worker_kills')}×")]

    queries = [o for o in hb if o.placement == "query"]
    cut_queries, _, _ = aborted(queries, timeout_s, params, max(0, logged - len(cut_blocks)))
    resolution_ms = params.sample_interval_s * 1000
    ended = [o for o in cut_queries if o.query_outlived_s is not None
             and o.query_outlived_s * 1000 <= resolution_ms + params.tolerance_ms]
    findings.append(Hypothesis(
        "heartbeat.sync-cut-cancels-query",
        "When Gunicorn aborts a sync worker in a query, the query ends with the request (psycopg cancels it on "
        "the SystemExit): it is not running after the client has Gunicorn's 500.",
        AtLeast(100, "%"), recommended=True, min_samples=MIN_HEARTBEAT_REQUESTS,
    ).judge(share(len(ended), len(queries)), len(queries),
            f"{len(ended)}/{len(queries)} queries of {params.heartbeat_query_s:g} s were aborted within "
            f"{low:.2f}–{high:.2f} s and seen running at most {resolution_ms:g} ms (± {params.tolerance_ms:g}) "
            f"after the answer; observed {_outcomes_text(queries)}; ran on "
            f"{span([o.query_outlived_s for o in queries if o.query_outlived_s is not None])} "
            f"(sighted {sum(o.query_outlived_s is not None for o in queries)}/{len(queries)})"))
    return findings


def judge_gthread(params: FlaskParams, runs: Mapping[str, LadderRun]) -> Finding:
    """gthread workers: the main thread keeps reporting in, so Gunicorn's timeout cuts no request."""
    blocks = _requests(runs, "gthread")
    logged = _log_count(runs, "gthread", "worker_timeouts")
    ran = [o for o in blocks if o.outcome == "ok" and o.latency_s >= o.delay_s - params.tolerance_s(o.delay_s)]
    # A WORKER TIMEOUT while they ran is a cut, whatever the clients saw.
    survived = ran if logged == 0 else []
    return Hypothesis(
        "gthread.request-not-cut",
        "On gthread workers Gunicorn's timeout bounds no request: a handler blocked longer than it runs to the end "
        "and gets its 200 (the worker's main thread keeps reporting in); no WORKER TIMEOUT.",
        AtLeast(100, "%"), recommended=False, min_samples=MIN_HEARTBEAT_REQUESTS,
    ).judge(share(len(survived), len(blocks)), len(blocks),
            f"{len(ran)}/{len(blocks)} blocking handlers of {params.heartbeat_block_s:g} s ran to their 200 with "
            f"Gunicorn timeout {params.gunicorn_timeout_s} s on {params.gthread_threads} threads per worker; observed "
            f"{_outcomes_text(blocks)}; Gunicorn logged WORKER TIMEOUT {logged}×")
