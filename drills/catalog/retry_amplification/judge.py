"""Judging the retry-amplification drill: every hypothesis, from the measurement it names.

Counts of work are the server's: database attempts from the service's ledger, checked against the
server's own sequence (a ledger that lost or gained a line leaves its hypotheses inconclusive).
A premise the claim rests on that the run did not bring about (the fault did not fire, no conflict
was raised, the clients did not fail together) is inconclusive too, never held.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from ...stats import share
from .observations import (
    DEADLOCK_DETECTED,
    QUERY_CANCELED,
    SERIALIZATION_FAILURE,
    Attempt,
    DbAttempt,
    RetryRun,
    peak_to_mean,
    sqlstates,
    sqlstates_met,
)
from .params import Params
from .storm import judge_storm, storm_series

__all__ = ["judge", "judge_storm", "storm_series"]


def judge(params: Params, runs: Mapping[str, RetryRun]) -> list[Finding]:
    """Every hypothesis of the drill, in the paper's order."""
    return [
        attempts_near_one(params, runs.get("recommended-amplify")),
        attempts_multiply(params, runs.get("naive-amplify")),
        timeout_runs_once(params, runs.get("recommended-amplify")),
        timeout_retry_repeats(params, runs.get("naive-amplify")),
        arrivals_spread(params, runs.get("recommended-jitter")),
        arrivals_in_waves(params, runs.get("naive-jitter")),
        put_resent_runs_twice(params, runs.get("recommended-resend")),
        post_sent_runs_once(params, runs.get("recommended-resend")),
        post_connect_failure_resent(params, runs.get("recommended-resend")),
        key_runs_once(params, runs.get("recommended-key")),
        concurrent_repeat_409(params, runs.get("recommended-key")),
        key_ignored_runs_twice(params, runs.get("naive-key")),
        conflicts_retried_whole(params, runs.get("recommended-conflicts")),
        *judge_storm(params, runs.get("budget"), runs.get("no-budget")),
    ]


def _ledger_problem(run: RetryRun | None) -> str | None:
    """Why the run's database attempts cannot be counted, or None."""
    if run is None:
        return "not measured"
    if run.executions is None or run.sequence_count is None:
        return "the service's ledger or the server's attempt sequence could not be read"
    if not run.ledger_complete():
        return (f"the ledger holds {len(run.executions)} database attempts, the server counted "
                f"{run.sequence_count}: lines lost or extra, so no count is trusted")
    return None


# -- amplification, and what a 57014 retried does -------------------------------------------------


def _amplify_detail(run: RetryRun) -> str:
    by_tag = run.executions_by_tag()
    counts = [len(by_tag.get(t, [])) for t in run.tags("amplify")]
    answers = Counter(a.outcome for a in run.last_answers("amplify").values())
    sent = Counter(a.tag for a in run.of("amplify"))
    return (f"database attempts per client request {counts}; client attempts {sorted(sent.values())}; "
            f"callers finally got {dict(answers)}; database attempts ended {dict(sqlstates(run.executions or []))}")


def _amplify_problem(run: RetryRun) -> str | None:
    """Why an amplification run cannot be judged: its ledger, or its premise — every database
    attempt met the slow database."""
    if (why := _ledger_problem(run)) is not None:
        return why
    states = sqlstates(run.executions or [])
    if not run.executions or set(states) != {QUERY_CANCELED}:
        return (f"the fault did not fire on every database attempt (ended {dict(states) or 'none'}, "
                f"not all {QUERY_CANCELED}): nothing was there to retry")
    return None


def attempts_near_one(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-amplify.attempts-near-one",
        "With retries at one layer, inside a budget, a client request reaches the slowed database about once: "
        "nginx does not resend a 504, the app does not re-run a cancelled statement, the caller does not retry it.",
        AtMost(1 + params.budget_ratio, "attempts per request"), recommended=True, min_samples=params.amplify_requests)
    why = "not measured" if run is None else _amplify_problem(run)
    if why is not None or run is None:
        return hypothesis.judge(None, 0, why or "not measured")
    by_tag = run.executions_by_tag()
    tags = run.tags("amplify")
    mean = sum(len(by_tag.get(t, [])) for t in tags) / len(tags) if tags else math.nan
    return hypothesis.judge(mean, len(tags), _amplify_detail(run))


def attempts_multiply(params: Params, run: RetryRun | None) -> Finding:
    product = params.naive_product
    hypothesis = Hypothesis(
        "naive-amplify.attempts-multiply",
        f"With every layer retrying, each client request reaches the slowed database client × nginx × app = "
        f"{params.naive_client_attempts} × {params.naive_nginx_tries} × {params.naive_app_attempts} = {product} times.",
        AtLeast(100, "%"), recommended=False, min_samples=params.amplify_requests)
    why = "not measured" if run is None else _amplify_problem(run)
    if why is not None or run is None:
        return hypothesis.judge(None, 0, why or "not measured")
    by_tag = run.executions_by_tag()
    tags = run.tags("amplify")
    exact = sum(len(by_tag.get(t, [])) == product for t in tags)
    return hypothesis.judge(share(exact, len(tags)), len(tags),
                            f"{exact}/{len(tags)} reached it exactly {product} times; {_amplify_detail(run)}")


def _invocations(run: RetryRun) -> dict[tuple[str, int, int], list[DbAttempt]]:
    out: dict[tuple[str, int, int], list[DbAttempt]] = {}
    for e in run.executions or []:
        out.setdefault(e.invocation, []).append(e)
    return out


def _invocation_detail(run: RetryRun, invocations: dict[tuple[str, int, int], list[DbAttempt]]) -> str:
    sizes = Counter(len(v) for v in invocations.values())
    answers = Counter(a.outcome for a in run.of("amplify"))
    return (f"statements per handler run {dict(sorted(sizes.items()))} over {len(invocations)} runs; answers to the "
            f"client's attempts {dict(answers)}; every statement ended {dict(sqlstates(run.executions or []))}")


def timeout_runs_once(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-amplify.timeout-runs-once",
        f"A statement cancelled by statement_timeout ({QUERY_CANCELED}) is not retried by the app: each handler "
        "runs it once and answers 504.",
        AtLeast(100, "%"), recommended=True, min_samples=params.amplify_requests)
    why = "not measured" if run is None else _amplify_problem(run)
    if why is not None or run is None:
        return hypothesis.judge(None, 0, why or "not measured")
    invocations = _invocations(run)
    once = sum(len(v) == 1 for v in invocations.values())
    return hypothesis.judge(share(once, len(invocations)), len(invocations),
                            f"{once}/{len(invocations)} handler runs ran it once; {_invocation_detail(run, invocations)}")


def timeout_retry_repeats(params: Params, run: RetryRun | None) -> Finding:
    n = params.naive_app_attempts
    hypothesis = Hypothesis(
        "naive-amplify.timeout-retry-repeats",
        f"Retried at once by the app, a cancelled statement runs again and is cancelled again: the database does "
        f"the work {n} times per handler run, each time until statement_timeout.",
        AtLeast(100, "%"), recommended=False, min_samples=params.amplify_requests)
    why = "not measured" if run is None else _amplify_problem(run)
    if why is not None or run is None:
        return hypothesis.judge(None, 0, why or "not measured")
    invocations = _invocations(run)
    repeated = sum(len(v) == n for v in invocations.values())
    busy = [e.ended_at - e.started_at for e in run.executions or []]
    mean_ms = 1000 * sum(busy) / len(busy) if busy else math.nan
    return hypothesis.judge(share(repeated, len(invocations)), len(invocations),
                            f"{repeated}/{len(invocations)} handler runs ran it {n} times, each {mean_ms:.0f} ms on "
                            f"average (statement_timeout {params.statement_timeout_s * 1000:.0f} ms); "
                            f"{_invocation_detail(run, invocations)}")


# -- jitter ----------------------------------------------------------------------------------------


def _retry_arrivals(params: Params, run: RetryRun) -> tuple[float, list[int], str] | str:
    """Peak-to-mean of when the retries arrived at the service, each counted from its own client's
    failure (both from the ledger, one clock), or why there is none to judge.

    Counted from each client's own failure, not from the first failure of all: clients that fail at
    the same moment then retry exactly so, and the measurement does not depend on how closely this
    machine could make 64 requests fail together (their answers spread over a few hundred ms here)."""
    failed_at: dict[str, float] = {}
    retried_at: dict[str, float] = {}
    for e in run.executions or []:
        if e.client_attempt == 1:  # nginx may have passed it to several replicas: the last one answered
            failed_at[e.tag] = max(failed_at.get(e.tag, -math.inf), e.ended_at)
        elif e.client_attempt == 2:
            retried_at[e.tag] = min(retried_at.get(e.tag, math.inf), e.started_at)
    firsts = [a for a in run.of("jitter") if a.attempt == 1]
    failed = [a for a in firsts if a.status is not None and a.status >= 500]
    delays = [retried_at[t] - failed_at[t] for t in retried_at if t in failed_at]
    if not firsts or len(failed) < len(firsts) or len(delays) < 0.9 * len(firsts):
        return (f"the premise did not hold: {len(failed)}/{len(firsts)} first attempts failed and "
                f"{len(delays)} retries arrived; the clients did not fail and retry")
    spread_ms = 1000 * (max(a.answered_at for a in failed) - min(a.answered_at for a in failed))
    ratio, counts = peak_to_mean(delays, 0.0, params.jitter_bin_s, params.jitter_bins)
    return ratio, counts, (f"{len(delays)} retries per {params.jitter_bin_s * 1000:.0f} ms after their client's failure: "
                           f"{counts}; backoff window {params.jitter_window_s * 1000:.0f} ms; the {len(failed)} "
                           f"failures themselves came within {spread_ms:.0f} ms")


def arrivals_spread(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-jitter.arrivals-spread",
        "With full jitter, clients that fail together retry spread over the backoff window: counted from the "
        "failure, the busiest interval holds close to the mean.",
        AtMost(params.jitter_max_peak_to_mean, "peak ÷ mean"), recommended=True, min_samples=params.jitter_clients)
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    result = _retry_arrivals(params, run)
    if isinstance(result, str):
        return hypothesis.inconclusive(None, len(run.tags("jitter")), result)
    ratio, counts, detail = result
    return hypothesis.judge(ratio, sum(counts), detail)


def arrivals_in_waves(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "naive-jitter.arrivals-in-waves",
        "Without jitter, clients that fail together retry together: counted from the failure, one wave, the "
        "busiest interval far above the mean.",
        AtLeast(params.jitter_min_wave, "peak ÷ mean"), recommended=False, min_samples=params.jitter_clients)
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    result = _retry_arrivals(params, run)
    if isinstance(result, str):
        return hypothesis.inconclusive(None, len(run.tags("jitter")), result)
    ratio, counts, detail = result
    return hypothesis.judge(ratio, sum(counts), detail)


# -- what nginx resends, and keys --------------------------------------------------------------------


def _resend(run: RetryRun, role: str) -> tuple[list[tuple[str, list[int], int | None]], str]:
    """Per request of ``role``: its tag, the replicas that ran it, the client's answer."""
    by_tag = run.executions_by_tag()
    answers = run.last_answers(role)
    rows = [(t, [e.replica for e in by_tag.get(t, [])], answers[t].status) for t in run.tags(role)]
    detail = "; ".join(f"ran on replicas {r or '[]'}, client got {s}" for _, r, s in rows)
    return rows, detail


def put_resent_runs_twice(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-resend.put-resent-runs-twice",
        "nginx resends a PUT whose replica died after reading it (proxy_next_upstream error): it runs on two "
        "replicas and the client gets the second one's 200.",
        AtLeast(100, "%"), recommended=False, min_samples=params.resend_requests)
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    rows, detail = _resend(run, "put")
    twice = sum(len(r) == 2 and len(set(r)) == 2 and s == 200 for _, r, s in rows)
    return hypothesis.judge(share(twice, len(rows)), len(rows), f"{twice}/{len(rows)} ran twice: {detail}")


def post_sent_runs_once(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-resend.post-sent-runs-once",
        "nginx does not resend a POST it already sent: it runs once, and the client gets nginx's 502.",
        AtLeast(100, "%"), recommended=True, min_samples=params.resend_requests)
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    rows, detail = _resend(run, "post")
    once = sum(len(r) == 1 and s == 502 for _, r, s in rows)
    return hypothesis.judge(share(once, len(rows)), len(rows), f"{once}/{len(rows)} ran once with a 502: {detail}")


def post_connect_failure_resent(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-resend.post-connect-failure-resent",
        "A POST whose connection was refused never reached a replica: nginx passes it to the next one, where it "
        "runs once, and the client gets its 201.",
        AtLeast(100, "%"), recommended=True, min_samples=params.resend_requests)
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    if run.log_tags is None:
        return hypothesis.judge(None, 0, "nginx's error log could not be read")
    refused = set(run.log_tags.get("connect-refused", []))
    rows, detail = _resend(run, "post-dead")
    resent = sum(t in refused and len(r) == 1 and s == 201 for t, r, s in rows)
    return hypothesis.judge(share(resent, len(rows)), len(rows),
                            f"{resent}/{len(rows)} refused first (nginx logged connect() failed for "
                            f"{len(refused & {t for t, _, _ in rows})}), then ran once: {detail}")


def _key_rows(run: RetryRun, role: str) -> tuple[list[int], str]:
    tags = run.tags(role)
    rows = [run.rows.get(t, 0) for t in tags]
    answers = run.last_answers(role)
    tries = Counter(a.tag for a in run.of(role))
    return rows, (f"rows per request {rows}; client attempts {[tries[t] for t in tags]}, "
                  f"last answers {[answers[t].status for t in tags]}")


def key_runs_once(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-key.key-runs-once",
        "A POST with an idempotency key, retried by the client after its replica died having committed, takes "
        "effect once: the retry replays the stored answer.",
        AtLeast(100, "%"), recommended=True, min_samples=params.key_requests)
    if run is None:
        return hypothesis.judge(None, 0, "not measured")
    rows, detail = _key_rows(run, "key")
    answers = run.last_answers("key")
    retried = sum(a.attempt > 1 for a in answers.values())
    if retried < len(answers):
        return hypothesis.inconclusive(None, len(answers), f"the premise did not hold: {retried}/{len(answers)} were "
                                       f"retried by the client; {detail}")
    once = sum(r == 1 and answers[t].status in (200, 201) for r, t in zip(rows, run.tags("key"), strict=True))
    return hypothesis.judge(share(once, len(rows)), len(rows), f"{once}/{len(rows)} wrote one row: {detail}")


def key_ignored_runs_twice(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "naive-key.key-ignored-runs-twice",
        "Without idempotency keys, the same retried POST takes effect twice.",
        AtLeast(100, "%"), recommended=False, min_samples=params.key_requests)
    if run is None:
        return hypothesis.judge(None, 0, "not measured")
    rows, detail = _key_rows(run, "key")
    twice = sum(r >= 2 for r in rows)
    return hypothesis.judge(share(twice, len(rows)), len(rows), f"{twice}/{len(rows)} wrote two rows: {detail}")


def concurrent_repeat_409(params: Params, run: RetryRun | None) -> Finding:
    lock_ms, tolerance_ms = params.lock_timeout_s * 1000, params.tolerance_ms
    hypothesis = Hypothesis(
        "recommended-key.concurrent-repeat-409",
        "A repeat that arrives while the first request still holds its key waits on the key for lock_timeout and "
        f"gets 409 (within lock_timeout + {tolerance_ms:g} ms); the first commits alone.",
        AtLeast(100, "%"), recommended=True, min_samples=params.key_requests)
    if run is None:
        return hypothesis.judge(None, 0, "not measured")
    pairs: dict[str, list[Attempt]] = {}
    for a in run.of("key-pair"):
        pairs.setdefault(a.tag, []).append(a)

    def as_claimed(tag: str, pair: list[Attempt]) -> bool:
        statuses = sorted(a.status or 0 for a in pair)
        waited = [a.latency_s * 1000 for a in pair if a.status == 409]
        return (statuses == [201, 409] and run.rows.get(tag, 0) == 1
                and all(lock_ms <= w <= lock_ms + tolerance_ms for w in waited))

    good = sum(as_claimed(t, p) for t, p in pairs.items())
    detail = "; ".join(f"{[a.status for a in p]} after {[round(a.latency_s * 1000) for a in p]} ms, "
                       f"{run.rows.get(t, 0)} row(s)" for t, p in pairs.items())
    return hypothesis.judge(share(good, len(pairs)), len(pairs),
                            f"{good}/{len(pairs)} pairs as claimed (lock_timeout {lock_ms:.0f} ms): {detail}")


# -- conflicts ---------------------------------------------------------------------------------------


def conflicts_retried_whole(params: Params, run: RetryRun | None) -> Finding:
    hypothesis = Hypothesis(
        "recommended-conflicts.retried-whole",
        f"Transactions that fail with a serialization failure ({SERIALIZATION_FAILURE}) or a deadlock "
        f"({DEADLOCK_DETECTED}) all commit when the app re-runs the whole transaction, and no update is lost.",
        AtLeast(100, "%"), recommended=True, min_samples=2 * (params.conflict_pairs + params.deadlock_pairs))
    if (why := _ledger_problem(run)) is not None:
        return hypothesis.judge(None, 0, why)
    assert run is not None
    states, met = sqlstates(run.executions or []), sqlstates_met(run.executions or [])
    answers = run.last_answers("increment") | run.last_answers("deadlock")
    committed = sum(a.status == 200 for a in answers.values())
    increments = sum(a.status == 200 for a in run.last_answers("increment").values())
    detail = (f"{committed}/{len(answers)} committed; database attempts ended {dict(states)} (met {dict(met)}); counter "
              f"{run.counter} after {increments} committed increments; answers "
              f"{dict(Counter(a.status for a in answers.values()))}")
    if met[SERIALIZATION_FAILURE] < 1 or met[DEADLOCK_DETECTED] < 1:
        return hypothesis.inconclusive(None, len(answers), f"the premise did not hold: no {SERIALIZATION_FAILURE} or "
                                       f"no {DEADLOCK_DETECTED} was raised; {detail}")
    if run.counter is None or run.counter != increments:
        return hypothesis.judge(0.0, len(answers), f"an update was lost or doubled: {detail}")
    return hypothesis.judge(share(committed, len(answers)), len(answers), detail)
