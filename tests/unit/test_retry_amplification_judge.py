"""The retry-amplification drill's judge on synthetic runs: every hypothesis held, failed and
inconclusive (a missing measurement, an unreadable or incomplete ledger, a premise not brought about)."""

from __future__ import annotations

import importlib
import random

import pytest

from drills.catalog.retry_amplification.observations import (
    Attempt,
    DbAttempt,
    RetryRun,
    peak_to_mean,
    per_second,
    recovery_s,
)
from drills.catalog.retry_amplification.params import Params
from drills.findings import Verdict

P = Params()
#: The module (the package exports its ``judge`` function under the same name).
j = importlib.import_module("drills.catalog.retry_amplification.judge")
HELD, FAILED, INCONCLUSIVE = Verdict.HELD, Verdict.FAILED, Verdict.INCONCLUSIVE


def execution(tag: str, *, client: int = 1, app: int = 1, pid: int = 100, replica: int = 0, at: float = 0.0,
              sqlstate: str = "") -> DbAttempt:
    return DbAttempt(tag, client, app, pid, replica, at, at + 0.2, sqlstate)


def amplify_run(run: str, per_invocation: int, invocations: int, *, requests: int = P.amplify_requests,
                sqlstate: str = "57014", status: int = 504) -> RetryRun:
    """Each request: ``invocations`` handler runs of ``per_invocation`` statements each."""
    attempts, executions = [], []
    for r in range(requests):
        tag = f"amp{r}"
        attempts.append(Attempt(tag, "amplify", 1, 0.0, 0.7, status, f"http-{status}"))
        for i in range(invocations):
            executions += [execution(tag, app=a + 1, pid=1000 * r + i, sqlstate=sqlstate) for a in range(per_invocation)]
    return RetryRun(run.split("-")[0], run, attempts, executions, sequence_count=len(executions))


# -- amplification --------------------------------------------------------------------------------


def test_attempts_near_one() -> None:
    assert j.attempts_near_one(P, amplify_run("recommended-amplify", 1, 1)).verdict is HELD
    naive = j.attempts_near_one(P, amplify_run("recommended-amplify", 3, 9))
    assert naive.verdict is FAILED and naive.observed == 27
    lost = amplify_run("recommended-amplify", 1, 1)
    lost.sequence_count = 5
    assert j.attempts_near_one(P, lost).verdict is INCONCLUSIVE
    assert "lines lost or extra" in j.attempts_near_one(P, lost).detail
    no_fault = j.attempts_near_one(P, amplify_run("recommended-amplify", 1, 1, sqlstate=""))
    assert no_fault.verdict is INCONCLUSIVE and "fault did not fire" in no_fault.detail
    assert j.attempts_near_one(P, None).verdict is INCONCLUSIVE


def test_attempts_multiply() -> None:
    assert P.naive_product == 27
    assert j.attempts_multiply(P, amplify_run("naive-amplify", 3, 9)).verdict is HELD
    assert j.attempts_multiply(P, amplify_run("naive-amplify", 1, 1)).verdict is FAILED
    assert j.attempts_multiply(P, amplify_run("naive-amplify", 3, 8)).verdict is FAILED  # one layer short
    assert j.attempts_multiply(P, None).verdict is INCONCLUSIVE
    unread = amplify_run("naive-amplify", 3, 9)
    unread.executions = None
    assert j.attempts_multiply(P, unread).verdict is INCONCLUSIVE


def test_a_cancelled_statement_runs_once_or_repeats() -> None:
    assert j.timeout_runs_once(P, amplify_run("recommended-amplify", 1, 1)).verdict is HELD
    assert j.timeout_runs_once(P, amplify_run("recommended-amplify", 3, 1)).verdict is FAILED
    assert j.timeout_runs_once(P, amplify_run("recommended-amplify", 1, 1, sqlstate="40001")).verdict is INCONCLUSIVE
    assert j.timeout_retry_repeats(P, amplify_run("naive-amplify", 3, 9)).verdict is HELD
    assert j.timeout_retry_repeats(P, amplify_run("naive-amplify", 1, 9)).verdict is FAILED
    assert j.timeout_retry_repeats(P, None).verdict is INCONCLUSIVE


# -- jitter ----------------------------------------------------------------------------------------


def jitter_run(run: str, retry_at: list[float], *, first_status: int = 503) -> RetryRun:
    attempts, executions = [], []
    for k, at in enumerate(retry_at):
        tag = f"jit{k}"
        attempts.append(Attempt(tag, "jitter", 1, 10.0, 0.005, first_status, "http-503"))
        attempts.append(Attempt(tag, "jitter", 2, at, 0.005, 200, "ok"))
        executions += [DbAttempt(tag, 1, 1, 100, 0, 10.0, 10.004, ""), execution(tag, client=2, at=at + 0.001)]
    return RetryRun(run.split("-")[0], run, attempts, executions, sequence_count=len(executions))


def uniform(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [10.005 + rng.uniform(0, P.jitter_window_s) for _ in range(n)]


def test_arrivals_spread_with_jitter_and_in_waves_without() -> None:
    spread, wave = jitter_run("recommended-jitter", uniform(P.jitter_clients)), jitter_run(
        "naive-jitter", [10.005 + P.naive_client_backoff_s] * P.jitter_clients)
    assert j.arrivals_spread(P, spread).verdict is HELD
    assert j.arrivals_spread(P, wave).verdict is FAILED
    assert j.arrivals_in_waves(P, wave).verdict is HELD
    assert j.arrivals_in_waves(P, spread).verdict is FAILED
    never_failed = jitter_run("recommended-jitter", uniform(P.jitter_clients), first_status=200)
    assert j.arrivals_spread(P, never_failed).verdict is INCONCLUSIVE
    assert "did not fail and retry" in j.arrivals_spread(P, never_failed).detail
    assert j.arrivals_in_waves(P, None).verdict is INCONCLUSIVE


def test_peak_to_mean() -> None:
    assert peak_to_mean([], 0.0, 0.1, 5)[0] != peak_to_mean([], 0.0, 0.1, 5)[0]  # NaN: no arrivals
    ratio, counts = peak_to_mean([0.05] * 10, 0.0, 0.1, 5)
    assert counts == [10, 0, 0, 0, 0] and ratio == 5
    ratio, counts = peak_to_mean([0.05, 0.15, 0.25, 0.35, 0.45, 0.95], 0.0, 0.1, 5)
    assert len(counts) == 10 and ratio == pytest.approx(1 / (6 / 10))


# -- what nginx resends, and keys --------------------------------------------------------------------


def resend_run(put: tuple[list[int], int], post: tuple[list[int], int], dead: tuple[list[int], int],
               refused: bool = True) -> RetryRun:
    attempts, executions, logged = [], [], []
    for role, (replicas, status) in (("put", put), ("post", post), ("post-dead", dead)):
        for k in range(P.resend_requests):
            tag = f"{role}{k}"
            attempts.append(Attempt(tag, role, 1, 0.0, 0.05, status, "ok" if status < 300 else f"http-{status}"))
            executions += [execution(tag, replica=r, pid=10 + r) for r in replicas]
            if role == "post-dead" and refused:
                logged.append(tag)
    return RetryRun("recommended", "recommended-resend", attempts, executions, sequence_count=len(executions),
                    log_tags={"connect-refused": logged})


def test_resends() -> None:
    good = resend_run(([0, 1], 200), ([0], 502), ([1], 201))
    assert j.put_resent_runs_twice(P, good).verdict is HELD
    assert j.post_sent_runs_once(P, good).verdict is HELD
    assert j.post_connect_failure_resent(P, good).verdict is HELD
    off = resend_run(([0], 502), ([0], 502), ([], 502))  # proxy_next_upstream off
    assert j.put_resent_runs_twice(P, off).verdict is FAILED
    assert j.post_connect_failure_resent(P, off).verdict is FAILED
    non_idempotent = resend_run(([0, 1], 200), ([0, 1], 201), ([1], 201))
    assert j.post_sent_runs_once(P, non_idempotent).verdict is FAILED
    unlogged = resend_run(([0, 1], 200), ([0], 502), ([1], 201), refused=False)
    assert j.post_connect_failure_resent(P, unlogged).verdict is FAILED  # not refused first: not the claim
    unlogged.log_tags = None
    assert j.post_connect_failure_resent(P, unlogged).verdict is INCONCLUSIVE
    for judge in (j.put_resent_runs_twice, j.post_sent_runs_once, j.post_connect_failure_resent):
        assert judge(P, None).verdict is INCONCLUSIVE


def key_run(run: str, rows: int, *, retried: bool = True, pair: tuple[int, int] = (201, 409),
            wait_ms: float = P.lock_timeout_s * 1000 + 10, pair_rows: int = 1) -> RetryRun:
    attempts, counts = [], {}
    for k in range(P.key_requests):
        tag = f"key{k}"
        attempts.append(Attempt(tag, "key", 1, 0.0, 0.05, 502, "http-502"))
        if retried:
            attempts.append(Attempt(tag, "key", 2, 0.5, 0.05, 201, "ok"))
        counts[tag] = rows
        ptag = f"pair{k}"
        attempts.append(Attempt(ptag, "key-pair", 1, 1.0, P.key_hold_s + 0.05, pair[0], "ok"))
        attempts.append(Attempt(ptag, "key-pair", 1, 1.1, wait_ms / 1000, pair[1], f"http-{pair[1]}"))
        counts[ptag] = pair_rows
    return RetryRun(run.split("-")[0], run, attempts, [], sequence_count=0, rows=counts)


def test_keys() -> None:
    honoured = key_run("recommended-key", 1)
    assert j.key_runs_once(P, honoured).verdict is HELD
    assert j.concurrent_repeat_409(P, honoured).verdict is HELD
    ignored = key_run("naive-key", 2, pair=(201, 201), pair_rows=2)
    assert j.key_runs_once(P, ignored).verdict is FAILED
    assert j.concurrent_repeat_409(P, ignored).verdict is FAILED
    assert j.key_ignored_runs_twice(P, ignored).verdict is HELD
    assert j.key_ignored_runs_twice(P, honoured).verdict is FAILED
    late = key_run("recommended-key", 1, wait_ms=P.lock_timeout_s * 1000 + P.tolerance_ms + 30)
    assert j.concurrent_repeat_409(P, late).verdict is FAILED  # a 409 from something slower than lock_timeout
    early = key_run("recommended-key", 1, wait_ms=P.lock_timeout_s * 1000 - 100)
    assert j.concurrent_repeat_409(P, early).verdict is FAILED
    not_retried = key_run("recommended-key", 1, retried=False)
    assert j.key_runs_once(P, not_retried).verdict is INCONCLUSIVE
    for judge in (j.key_runs_once, j.concurrent_repeat_409, j.key_ignored_runs_twice):
        assert judge(P, None).verdict is INCONCLUSIVE


# -- conflicts ---------------------------------------------------------------------------------------


def conflict_run(statuses: list[int], states: list[str], counter: int) -> RetryRun:
    attempts = [Attempt(f"inc{k}", "increment", 1, 0.0, 0.1, s, "") for k, s in enumerate(statuses[:-4])]
    attempts += [Attempt(f"dl{k}", "deadlock", 1, 0.0, 0.1, s, "") for k, s in enumerate(statuses[-4:])]
    executions = [execution(f"inc{k}", app=k + 1, sqlstate=s) for k, s in enumerate(states)]
    return RetryRun("recommended", "recommended-conflicts", attempts, executions, sequence_count=len(executions),
                    counter=counter)


def test_conflicts_retried_whole() -> None:
    n = 2 * (P.conflict_pairs + P.deadlock_pairs)
    increments = 2 * P.conflict_pairs
    states = ["", "40001", "", "40P01", ""]
    assert j.conflicts_retried_whole(P, conflict_run([200] * n, states, increments)).verdict is HELD
    some_409 = [200] * (n - 2) + [409, 409]
    assert j.conflicts_retried_whole(P, conflict_run(some_409, states + ["25P02"], increments)).verdict is FAILED
    # Re-running the statement in the aborted transaction: the 40001 is met, the attempt ends 25P02.
    hidden = conflict_run(some_409, ["", "25P02", "", "40P01"], increments)
    aborted = ("40001", "25P02")
    hidden.executions = [e if e.sqlstate != "25P02" else DbAttempt(e.tag, 1, 2, 100, 0, 0.0, 0.2, "25P02", aborted)
                         for e in hidden.executions or []]
    assert j.conflicts_retried_whole(P, hidden).verdict is FAILED
    lost_update = j.conflicts_retried_whole(P, conflict_run([200] * n, states, increments - 1))
    assert lost_update.verdict is FAILED and "lost or doubled" in lost_update.detail
    no_deadlock = j.conflicts_retried_whole(P, conflict_run([200] * n, ["", "40001"], increments))
    assert no_deadlock.verdict is INCONCLUSIVE and "no 40001 or no 40P01" in no_deadlock.detail
    assert j.conflicts_retried_whole(P, None).verdict is INCONCLUSIVE


# -- the storm ---------------------------------------------------------------------------------------


def storm_run(run: str, *, bad_until: float, retries_per_failure: int, fail_in_fault: bool = True) -> RetryRun:
    """20 callers a second for 16 s; between the fault's start (4 s) and ``bad_until`` every first
    attempt times out and is retried ``retries_per_failure`` times, also timing out."""
    attempts = []
    for k in range(int(P.storm_rate * P.storm_s)):
        at = k / P.storm_rate
        tag = f"st{k}"
        bad = fail_in_fault and P.storm_pre_s <= at < bad_until
        if not bad:
            attempts.append(Attempt(tag, "storm", 1, at, 0.05, 200, "ok"))
            continue
        for n in range(1 + retries_per_failure):
            attempts.append(Attempt(tag, "storm", n + 1, at + n * 1.1, 1.0, None, "client-timeout"))
    fault_from = P.storm_pre_s
    return RetryRun(run, run, attempts, None, started_at=0.0, fault_from=fault_from,
                    fault_until=fault_from + P.storm_fault_s)


def test_the_budget_caps_the_storm_and_without_one_it_outlasts_the_fault() -> None:
    fault_end = P.storm_pre_s + P.storm_fault_s
    capped = storm_run("budget", bad_until=fault_end, retries_per_failure=0)
    capped.attempts += [Attempt(f"st{k}", "storm", 2, 5.0, 1.0, None, "client-timeout") for k in range(12)]
    stormed = storm_run("no-budget", bad_until=P.storm_s, retries_per_failure=2)
    extra, recovers, outlasts = j.judge_storm(P, capped, stormed)
    assert (extra.verdict, recovers.verdict, outlasts.verdict) == (HELD, HELD, HELD), (extra, recovers, outlasts)
    assert recovers.observed == 0
    # Under each other's stack: the budget's claims fail on the storm, the storm's on the budget.
    extra, recovers, outlasts = j.judge_storm(P, stormed, capped)
    assert (extra.verdict, recovers.verdict, outlasts.verdict) == (FAILED, FAILED, FAILED)
    late = storm_run("budget", bad_until=fault_end + P.recovery_limit_s + 1, retries_per_failure=0)
    assert j.judge_storm(P, late, None)[1].verdict is FAILED
    calm = storm_run("budget", bad_until=fault_end, retries_per_failure=0, fail_in_fault=False)
    verdicts = [f.verdict for f in j.judge_storm(P, calm, calm)]
    assert verdicts == [INCONCLUSIVE] * 3  # the fault overloaded nothing: no storm to judge
    assert [f.verdict for f in j.judge_storm(P, None, None)] == [INCONCLUSIVE] * 3


def test_recovery_and_per_second() -> None:
    assert per_second([0.1, 0.9, 1.5, 3.2, -1.0, 9.0], 0.0, 4) == [2, 1, 0, 1]
    offered = [20.0] * 10
    assert recovery_s([20, 20, 0, 0, 5, 19, 20, 20, 20, 20], offered, 2, 0.9, 2) == 3
    assert recovery_s([20, 20, 0, 0, 0, 0, 0, 0, 0, 19], offered, 2, 0.9, 2) is None


def test_judge_lists_every_hypothesis_once_in_the_papers_order() -> None:
    keys = [f.key for f in j.judge(P, {})]
    assert len(keys) == len(set(keys)) == 16
    assert all(f.verdict is INCONCLUSIVE for f in j.judge(P, {}))
