"""Sending the retry-amplification drill's traffic, and reading what every layer did with it.

Each measurement makes the failure its claims are about happen on the real stack — the database
slowed past statement_timeout, a replica's worker killed mid-request, two transactions in conflict —
then counts what reached the database from the service's ledger (one line per database attempt)
and the server's own sequence of attempts.
"""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial

from ...deployment import Capability, Deployment
from ...pipeline import Measuring
from ...retry_policy import RetryPolicy
from ...stack.http import Endpoint
from .client import call
from .observations import Attempt, DbAttempt, RetryRun, parse_ledgers
from .params import Params
from .schema import (
    admin_connection,
    attempts_counted,
    clear_fault,
    counter,
    nginx_events,
    prepare,
    rows_per_tag,
    set_fault,
)

#: Kinds of measurement, by the name's last part (the configuration is the first).
KINDS = ("amplify", "jitter", "resend", "key", "conflicts")
#: A fast request's timeout (the resends, the keys, the conflicts).
FAST_TIMEOUT_S = 5.0
#: How long a replica's master may take to boot a worker in place of a killed one.
RESPAWN_TIMEOUT_S = 20.0


def kind_of(run: str) -> str:
    return "storm" if run in ("budget", "no-budget") else run.rsplit("-", 1)[1]


def measure(m: Measuring[Params]) -> RetryRun:
    deployment, params = m.deployment, m.params
    policy = m.stack.client_retry if m.stack is not None else None
    with admin_connection(deployment) as conn:
        prepare(conn)
        before = attempts_counted(conn)
    logs = Capability.LOGS in deployment.capabilities
    log_from = len(deployment.log("proxy")) if logs else 0
    kind = kind_of(m.run)
    run = RetryRun(m.configuration, m.run, [], started_at=time.time())
    if kind == "amplify":
        amplify(deployment, params, policy, run, m.say)
    elif kind == "jitter":
        jitter(deployment, params, policy, run, m.say)
    elif kind == "resend":
        resend(deployment, params, run, m.say)
    elif kind == "key":
        keys(deployment, params, policy, run, m.say)
    elif kind == "conflicts":
        conflicts(deployment, params, run, m.say)
    else:
        storm(deployment, params, policy, run, m.say)
    with admin_connection(deployment) as conn:
        clear_fault(conn)
        run.sequence_count = attempts_counted(conn) - before
        tags = {a.tag for a in run.attempts}
        run.rows = rows_per_tag(conn, sorted(tags))
        run.counter = counter(conn)
    run.executions = read_ledgers(deployment, tags)
    if logs:
        run.log_tags = nginx_events(deployment.log("proxy")[log_from:])
    return run


def read_ledgers(deployment: Deployment, tags: set[str]) -> list[DbAttempt]:
    texts = ["".join(p.read_text(encoding="utf-8") for p in sorted(d.glob("ledger-*.jsonl")))
             for d in deployment.ledger_dirs]
    return parse_ledgers(texts, tags)


def _tag(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _together(sends: Sequence[Callable[[], list[Attempt]]]) -> list[Attempt]:
    """Run ``sends`` at once, released together; every attempt they made."""
    parked, go = threading.Barrier(len(sends) + 1), threading.Event()

    def one(send: Callable[[], list[Attempt]]) -> list[Attempt]:
        parked.wait()
        go.wait()
        return send()

    with concurrent.futures.ThreadPoolExecutor(len(sends), thread_name_prefix="drills-retry") as pool:
        futures = [pool.submit(one, s) for s in sends]
        parked.wait()
        go.set()
        return [a for f in futures for a in f.result()]


def amplify(deployment: Deployment, params: Params, policy: RetryPolicy | None, run: RetryRun,
            say: Callable[[str], None]) -> None:
    """GETs while every statement sleeps past statement_timeout: each layer's retries show in the ledger."""
    with admin_connection(deployment) as conn:
        set_fault(conn, delay_s=params.fault_delay_s, for_s=3600.0)
    tags = [_tag("amp") for _ in range(params.amplify_requests)]
    say(f"  amplify: {len(tags)} GETs while the database sleeps {params.fault_delay_s:g} s per statement "
        f"(statement_timeout {params.statement_timeout_s:g} s)")
    rng = random.Random()
    run.attempts += _together([partial(call, deployment.entry, tag=t, role="amplify", method="GET",
                                       path=f"/flaky?tag={t}", timeout_s=params.amplify_client_timeout_s,
                                       policy=policy, budget=policy.budget() if policy else None, rng=rng)
                               for t in tags])
    # A statement nginx or the client gave up on may still be running: wait until each would have ended.
    time.sleep(params.naive_app_attempts * params.statement_timeout_s + 0.5)


def jitter(deployment: Deployment, params: Params, policy: RetryPolicy | None, run: RetryRun,
           say: Callable[[str], None]) -> None:
    """Clients whose first attempt fails at the same moment (the service answers 503 to it), each
    with its own budget; their retries' arrivals are read from the ledger."""
    tags = [_tag("jit") for _ in range(params.jitter_clients)]
    with admin_connection(deployment) as conn:
        set_fault(conn, fail_attempts=1, for_s=3600.0)
    say(f"  jitter: {len(tags)} clients fail together, then retry")
    rng = random.Random()
    run.attempts += _together([partial(call, deployment.entry, tag=t, role="jitter", method="GET",
                                       path=f"/flaky?tag={t}", timeout_s=FAST_TIMEOUT_S,
                                       policy=policy, budget=policy.budget() if policy else None, rng=rng)
                               for t in tags])


def _await_workers(deployment: Deployment, expected: int) -> None:
    """Until every replica's master has a ready worker again (one was killed on purpose)."""
    deadline = time.monotonic() + RESPAWN_TIMEOUT_S
    endpoints: tuple[Endpoint, ...] = deployment.metrics
    while time.monotonic() < deadline:
        if len(deployment.service_pids()) >= expected and all(
                e.get("/readyz", timeout_s=2.0).status == 200 for e in endpoints):
            return
        time.sleep(0.1)
    raise TimeoutError(f"a replica's worker was not replaced within {RESPAWN_TIMEOUT_S:g} s")


def resend(deployment: Deployment, params: Params, run: RetryRun, say: Callable[[str], None]) -> None:
    """A PUT and a POST whose worker dies after reading them, and a POST whose first connect is
    refused; sent one at a time, each replica whole again before the next. No client retries: what
    happens is nginx's doing."""
    expected = len(deployment.service_pids())
    say(f"  resend: {params.resend_requests} × (PUT, POST) whose worker dies, POST to a dead port first")
    for k in range(params.resend_requests):
        for role, method, path in (("put", "PUT", f"/items/{k}?crash_once=1"), ("post", "POST", "/items?crash_once=1")):
            tag = _tag(role)
            run.attempts += call(deployment.entry, tag=tag, role=role, method=method, path=f"{path}&tag={tag}",
                                 timeout_s=FAST_TIMEOUT_S, policy=None, body=b"{}")
            _await_workers(deployment, expected)
        tag = _tag("dead")
        run.attempts += call(deployment.entry, tag=tag, role="post-dead", method="POST",
                             path=f"/via-dead/items?tag={tag}", timeout_s=FAST_TIMEOUT_S, policy=None, body=b"{}")


def keys(deployment: Deployment, params: Params, policy: RetryPolicy | None, run: RetryRun,
         say: Callable[[str], None]) -> None:
    """Keyed POSTs whose worker dies after committing, retried by the configuration's client; then
    pairs of the same keyed POST at once, the first holding its key."""
    expected = len(deployment.service_pids())
    say(f"  keys: {params.key_requests} keyed POSTs whose worker dies after the commit, "
        f"{params.key_requests} concurrent repeats")
    rng = random.Random()
    for _ in range(params.key_requests):
        tag = _tag("key")
        run.attempts += call(deployment.entry, tag=tag, role="key", method="POST",
                             path=f"/orders?tag={tag}&crash_after_commit_once=1", timeout_s=FAST_TIMEOUT_S,
                             policy=policy, budget=policy.budget() if policy else None,
                             headers={"Idempotency-Key": tag}, body=b'{"item": "drill"}', rng=rng)
        _await_workers(deployment, expected)
    for _ in range(params.key_requests):
        tag = _tag("pair")
        send = partial(call, deployment.entry, tag=tag, role="key-pair", method="POST",
                       path=f"/orders?tag={tag}&hold_s={params.key_hold_s}", timeout_s=FAST_TIMEOUT_S, policy=None,
                       headers={"Idempotency-Key": tag}, body=b'{"item": "drill"}')
        first = threading.Thread(target=lambda s=send: run.attempts.extend(s()))
        first.start()
        time.sleep(params.lock_timeout_s / 4)  # the first has its key row before the repeat arrives
        run.attempts += send()
        first.join()


def conflicts(deployment: Deployment, params: Params, run: RetryRun, say: Callable[[str], None]) -> None:
    """Pairs of read-modify-write increments of one row (40001 under REPEATABLE READ), then pairs
    locking two rows in opposite orders (40P01). The app retries as its configuration says; the
    client never does."""
    say(f"  conflicts: {params.conflict_pairs} pairs of increments, {params.deadlock_pairs} pairs in opposite lock order")
    for _ in range(params.conflict_pairs):
        sends = []
        for _ in range(2):
            tag = _tag("inc")
            sends.append(partial(call, deployment.entry, tag=tag, role="increment", method="POST",
                                 path=f"/counter/increment?tag={tag}&hold_s={params.conflict_hold_s}",
                                 timeout_s=FAST_TIMEOUT_S, policy=None, body=b"{}"))
        run.attempts += _together(sends)
    for _ in range(params.deadlock_pairs):
        sends = []
        for order in ("ab", "ba"):
            tag = _tag("dl")
            sends.append(partial(call, deployment.entry, tag=tag, role="deadlock", method="POST",
                                 path=f"/counter/deadlock?tag={tag}&order={order}&hold_s={params.conflict_hold_s}",
                                 timeout_s=FAST_TIMEOUT_S, policy=None, body=b"{}"))
        run.attempts += _together(sends)


def storm(deployment: Deployment, params: Params, policy: RetryPolicy | None, run: RetryRun,
          say: Callable[[str], None]) -> None:
    """An open-loop caller (``storm_rate`` first attempts per second, each retried by one shared
    budget or none) against one replica whose database slows for ``storm_fault_s``."""
    budget = policy.budget() if policy else None
    rng = random.Random()
    period, total = 1.0 / params.storm_rate, params.storm_first_attempts
    say(f"  storm: {total} requests at {params.storm_rate:g}/s; the database slows "
        f"{params.storm_hold_s * 1000:.0f} → {params.storm_fault_hold_s * 1000:.0f} ms per request from "
        f"{params.storm_pre_s:g} s for {params.storm_fault_s:g} s")
    lock = threading.Lock()
    finish_by = time.monotonic() + params.storm_s + params.attempts * (
        params.storm_client_timeout_s + params.storm_backoff_cap_s) + 1.0

    def one(tag: str) -> None:
        attempts = call(deployment.entry, tag=tag, role="storm", method="GET",
                        path=f"/flaky?tag={tag}&db_s={params.storm_hold_s}", timeout_s=params.storm_client_timeout_s,
                        policy=policy, budget=budget, rng=rng, deadline=finish_by)
        with lock:
            run.attempts.extend(attempts)

    # Every caller may be waiting out its timeouts at once: attempts × timeout worth of arrivals.
    workers = min(512, int(params.storm_rate * params.attempts * (params.storm_client_timeout_s + 1)) + 16)
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="drills-storm") as pool:
        start = time.monotonic()
        run.started_at = time.time()
        fault_at = start + params.storm_pre_s
        faulted = False
        for k in range(total):
            due = start + k * period
            if not faulted and due >= fault_at:
                with admin_connection(deployment) as conn:
                    run.fault_from = time.time()
                    set_fault(conn, delay_s=params.storm_fault_hold_s, for_s=params.storm_fault_s)
                run.fault_until = run.fault_from + params.storm_fault_s
                faulted = True
            while (left := due - time.monotonic()) > 0:
                time.sleep(left)
            pool.submit(one, _tag("st"))
            if k and k % round(params.storm_rate * 4) == 0:
                say(f"  storm: {k}/{total} sent, {len(run.attempts)} attempts answered")
