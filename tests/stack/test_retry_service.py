"""The retry drill's endpoints on a real stack: each mechanism the drill counts really happens.

Four small stacks (module-scoped: each starts once): the recommended service (whole-transaction
retry of 40001/40P01, idempotency keys) behind nginx with the /via-dead/ location; the service
without retries; the statement-retry falsifier; the naive ``retry_on=operational``. Every count is
read where the drill will read it: the service's ledger, the database (admin connection), nginx's
error log.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drills.app.schema import attempts_counted, counter, create_schema, reset_counters, set_fault
from drills.stack import LocalStack, PostgresConfig, ProxyConfig, ServiceConfig, StackConfig, local_stack
from drills.stack.http import Endpoint, HttpResult
from drills.stack.postgres import EXEMPT_FROM_TIMEOUTS

pytestmark = pytest.mark.slow

LOCK_TIMEOUT_S = 0.4
FAST_RETRY = {"retry_attempts": 3, "retry_budget_ratio": 0.0, "retry_backoff_base_s": 0.01,
              "retry_backoff_cap_s": 0.05}
SERVICE = {"workers": 1, "pool_min_size": 2, "pool_max_size": 2, "keepalive_s": 5}


def _stack(config: StackConfig) -> Iterator[LocalStack]:
    with local_stack(config) as stack:
        with stack.connect(options=EXEMPT_FROM_TIMEOUTS) as conn:
            create_schema(conn)  # as the drill will: after the stack is up, before the first request
        yield stack


@pytest.fixture(scope="module")
def recommended(pg_binaries, nginx_binary) -> Iterator[LocalStack]:
    yield from _stack(StackConfig(
        replicas=2,
        postgres=PostgresConfig(settings={"lock_timeout": f"{round(LOCK_TIMEOUT_S * 1000)}ms",
                                          "deadlock_timeout": "100ms"}),
        service=ServiceConfig(**SERVICE, retry_on="serialization", **FAST_RETRY),
        proxy=ProxyConfig(next_upstream="error", next_upstream_tries=2, read_timeout_s=5.0,
                          dead_first_location=True)))


def _single(retry_on: str) -> StackConfig:
    return StackConfig(
        postgres=PostgresConfig(settings={"statement_timeout": "300ms", "deadlock_timeout": "100ms"}),
        service=ServiceConfig(**SERVICE, retry_on=retry_on, **FAST_RETRY),  # type: ignore[arg-type]
        proxy=ProxyConfig(read_timeout_s=5.0))


@pytest.fixture(scope="module")
def no_retry(pg_binaries, nginx_binary) -> Iterator[LocalStack]:
    yield from _stack(_single("none"))


@pytest.fixture(scope="module")
def statement_retry(pg_binaries, nginx_binary) -> Iterator[LocalStack]:
    yield from _stack(_single("statement"))


@pytest.fixture(scope="module")
def operational_retry(pg_binaries, nginx_binary) -> Iterator[LocalStack]:
    yield from _stack(_single("operational"))


# -- helpers ------------------------------------------------------------------------------------


def _tag(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def ledger(stack: LocalStack, tag: str) -> list[dict[str, Any]]:
    """Every attempt of ``tag``, with the replica (0-based) whose worker wrote it, in start order."""
    lines = []
    for replica, folder in enumerate(stack.ledger_dirs):
        for path in folder.glob("ledger-*.jsonl"):
            for raw in path.read_text(encoding="utf-8").splitlines():
                line = json.loads(raw)
                if line["tag"] == tag:
                    lines.append({**line, "replica": replica})
    return sorted(lines, key=lambda line: line["started_at"])


def together(*sends: Callable[[], HttpResult]) -> list[HttpResult]:
    """Release every send at once (a barrier), return what each saw, in order."""
    gate = threading.Barrier(len(sends))

    def one(send: Callable[[], HttpResult]) -> HttpResult:
        gate.wait()
        return send()

    with concurrent.futures.ThreadPoolExecutor(len(sends)) as pool:
        return [f.result() for f in [pool.submit(one, s) for s in sends]]


def body(result: HttpResult) -> dict[str, Any]:
    return json.loads(result.body) if result.body else {}


def wait_ready(stack: LocalStack, timeout_s: float = 20.0) -> None:
    """Every replica's workers are up again (Gunicorn respawns a killed one) and pass /readyz."""
    deadline = time.monotonic() + timeout_s
    for service in stack.services:
        while not (len(list(service.state_dir.glob("worker-*.ready"))) >= service.config.workers
                   and Endpoint(port=service.port).get("/readyz", timeout_s=2.0).status == 200):
            assert time.monotonic() < deadline, f"replica on port {service.port} not ready again"
            time.sleep(0.1)


def _post(stack: LocalStack, path: str, headers: dict[str, str] | None = None, timeout_s: float = 10.0) -> HttpResult:
    return stack.entry.request("POST", path, headers=headers, timeout_s=timeout_s)


# -- nginx, crashes and resends -------------------------------------------------------------------


def test_a_put_whose_worker_crashed_is_resent_and_runs_on_the_other_replica(recommended: LocalStack) -> None:
    tag = _tag("put")
    first = recommended.entry.request("PUT", f"/items/7?tag={tag}&crash_once=1", timeout_s=10)
    assert first.status == 200, first
    runs = ledger(recommended, tag)
    assert len(runs) == 2 and {r["replica"] for r in runs} == {0, 1}, runs
    assert "upstream prematurely closed connection" in recommended.proxy.error_log()
    wait_ready(recommended)
    crashed_pid, crashed_replica = runs[0]["pid"], recommended.services[runs[0]["replica"]]
    respawned = Endpoint(port=crashed_replica.port).get("/healthz", timeout_s=5)
    assert respawned.status == 200 and body(respawned)["pid"] != crashed_pid  # Gunicorn's new worker
    # Once per tag: the same request again runs once and kills nothing.
    again = recommended.entry.request("PUT", f"/items/7?tag={tag}&crash_once=1", timeout_s=10)
    assert again.status == 200 and len(ledger(recommended, tag)) == 3
    assert body(again)["pid"] != crashed_pid  # whichever replica answered, not the dead worker
    with recommended.connect() as conn:
        rows = conn.execute("SELECT count(*), min(pid) FROM drill_crash_markers WHERE tag = %s", (tag,)).fetchone()
    assert rows == (1, crashed_pid)


def test_a_post_whose_worker_crashed_is_not_resent(recommended: LocalStack) -> None:
    tag = _tag("post")
    result = _post(recommended, f"/items?tag={tag}&crash_once=1")
    assert result.status == 502 and b"nginx" in result.body
    assert len(ledger(recommended, tag)) == 1
    wait_ready(recommended)


def test_a_post_whose_connect_failed_is_resent_to_the_backup(recommended: LocalStack) -> None:
    tag = _tag("dead")
    errors_before = recommended.proxy.error_log().count("connect() failed (111")
    result = _post(recommended, f"/via-dead/items?tag={tag}")
    assert result.status == 201, result
    runs = ledger(recommended, tag)
    assert [r["replica"] for r in runs] == [0]  # the backup is replica 1 (index 0), and it ran once
    assert recommended.proxy.error_log().count("connect() failed (111") == errors_before + 1


# -- Pattern D ------------------------------------------------------------------------------------


def test_a_retried_keyed_post_takes_effect_once(recommended: LocalStack) -> None:
    tag, key = _tag("key"), str(uuid.uuid4())
    crashed = _post(recommended, f"/orders?tag={tag}&crash_after_commit_once=1", {"Idempotency-Key": key})
    assert crashed.status == 502  # committed, then the worker died before answering
    wait_ready(recommended)
    retried = _post(recommended, f"/orders?tag={tag}&crash_after_commit_once=1",
                    {"Idempotency-Key": key, "X-Retry-Attempt": "2"})
    assert retried.status == 201 and retried.headers.get("idempotent-replayed") == "true"
    with recommended.connect() as conn:
        rows = conn.execute("SELECT count(*), min(id) FROM orders WHERE tag = %s", (tag,)).fetchone()
    assert rows == (1, body(retried)["id"])
    assert [r["client_attempt"] for r in ledger(recommended, tag)] == [1, 2]
    assert _post(recommended, f"/orders?tag={tag}").status == 400  # no key: refused


def test_a_concurrent_repeat_waits_lock_timeout_then_gets_409(recommended: LocalStack) -> None:
    tag, key, hold_s = _tag("pair"), str(uuid.uuid4()), LOCK_TIMEOUT_S + 0.4
    a, b = together(*[lambda: _post(recommended, f"/orders?tag={tag}&hold_s={hold_s}", {"Idempotency-Key": key})] * 2)
    first, repeat = sorted([a, b], key=lambda r: r.status)
    assert (first.status, repeat.status) == (201, 409), (a, b)
    assert body(repeat)["error"] == "idempotency_key_in_progress" and body(repeat)["sqlstate"] == "55P03"
    waited = [r for r in ledger(recommended, tag) if r["sqlstate"] == "55P03"]
    assert len(waited) == 1
    # The database's wait, from the ledger: lock_timeout plus the attempt's own round trips.
    assert LOCK_TIMEOUT_S <= waited[0]["ended_at"] - waited[0]["started_at"] < LOCK_TIMEOUT_S + 0.15
    assert LOCK_TIMEOUT_S <= repeat.elapsed_s < LOCK_TIMEOUT_S + 0.25 < hold_s <= first.elapsed_s
    with recommended.connect() as conn:
        assert conn.execute("SELECT count(*) FROM orders WHERE tag = %s", (tag,)).fetchone() == (1,)


# -- conflicts ------------------------------------------------------------------------------------


def _increment_pair(stack: LocalStack, name: str) -> tuple[list[HttpResult], list[dict[str, Any]]]:
    with stack.connect() as conn:
        reset_counters(conn, name)
    tags = [_tag("inc"), _tag("inc")]
    results = together(*[lambda t=t: _post(stack, f"/counter/increment?tag={t}&name={name}&hold_s=0.3")
                         for t in tags])
    return results, [line for t in tags for line in ledger(stack, t)]


def test_conflicting_increments_retried_whole_all_commit(recommended: LocalStack) -> None:
    results, lines = _increment_pair(recommended, "c_rec")
    assert [r.status for r in results] == [200, 200], results
    assert "40001" in [line["sqlstate"] for line in lines]
    with recommended.connect() as conn:
        assert counter(conn, "c_rec") == 2  # no lost update


def test_conflicting_increments_without_retry_give_40001_as_409(no_retry: LocalStack) -> None:
    results, lines = _increment_pair(no_retry, "c_none")
    assert sorted(r.status for r in results) == [200, 409], results
    conflict = next(r for r in results if r.status == 409)
    assert body(conflict)["error"] == "conflict" and body(conflict)["sqlstate"] == "40001"
    assert sorted(line["sqlstate"] for line in lines) == ["", "40001"] and len(lines) == 2
    with no_retry.connect() as conn:
        assert counter(conn, "c_none") == 1


def test_retrying_the_statement_inside_the_aborted_transaction_gives_25p02(statement_retry: LocalStack) -> None:
    results, lines = _increment_pair(statement_retry, "c_stmt")
    assert sorted(r.status for r in results) == [200, 409], results
    aborted = body(next(r for r in results if r.status == 409))
    assert (aborted["error"], aborted["sqlstate"]) == ("transaction_aborted", "25P02")
    failed = [line for line in lines if line["sqlstate"]]
    assert [line["sqlstates"] for line in failed] == [["40001", "25P02"]]
    with statement_retry.connect() as conn:
        assert counter(conn, "c_stmt") == 1


def _deadlock_pair(stack: LocalStack, name: str) -> tuple[list[HttpResult], list[dict[str, Any]]]:
    with stack.connect() as conn:
        reset_counters(conn, f"{name}_a", f"{name}_b")
    tags = {order: _tag(f"dl{order}") for order in ("ab", "ba")}
    results = together(*[lambda o=o, t=t: _post(stack, f"/counter/deadlock?order={o}&tag={t}&name={name}&hold_s=0.3")
                         for o, t in tags.items()])
    return results, [line for t in tags.values() for line in ledger(stack, t)]


def test_a_deadlock_gives_40p01_and_is_retried_whole(recommended: LocalStack, no_retry: LocalStack) -> None:
    results, lines = _deadlock_pair(no_retry, "d_none")
    assert sorted(r.status for r in results) == [200, 409], results
    assert body(next(r for r in results if r.status == 409))["sqlstate"] == "40P01"
    assert sorted(line["sqlstate"] for line in lines) == ["", "40P01"]
    results, lines = _deadlock_pair(recommended, "d_rec")
    assert [r.status for r in results] == [200, 200], results
    assert "40P01" in [line["sqlstate"] for line in lines]
    with recommended.connect() as conn:
        assert (counter(conn, "d_rec_a"), counter(conn, "d_rec_b")) == (2, 2)


# -- the fault --------------------------------------------------------------------------------------


def _timed_out_flaky(stack: LocalStack) -> tuple[HttpResult, list[dict[str, Any]], int]:
    """One GET /flaky straight to the replica (no nginx) while the fault outlasts statement_timeout."""
    tag = _tag("slow")
    with stack.connect(options=EXEMPT_FROM_TIMEOUTS) as conn:
        before = attempts_counted(conn)
        set_fault(conn, delay_s=1.0, for_s=10.0)
        try:
            result = Endpoint(port=stack.service.port).get(f"/flaky?tag={tag}", timeout_s=10)
        finally:
            set_fault(conn, for_s=0.0)
        return result, ledger(stack, tag), attempts_counted(conn) - before


def test_operational_retry_runs_a_timed_out_statement_once_per_app_attempt(operational_retry: LocalStack) -> None:
    result, lines, counted = _timed_out_flaky(operational_retry)
    assert result.status == 504 and body(result)["sqlstate"] == "57014"
    assert [(line["app_attempt"], line["sqlstate"]) for line in lines] == [(1, "57014"), (2, "57014"), (3, "57014")]
    assert counted == len(lines) == 3  # the sequence agrees with the ledger
    assert result.elapsed_s >= 3 * 0.3


def test_without_retry_a_timed_out_statement_runs_once(no_retry: LocalStack) -> None:
    result, lines, counted = _timed_out_flaky(no_retry)
    assert result.status == 504 and [line["sqlstate"] for line in lines] == ["57014"] and counted == 1
    assert 0.3 <= result.elapsed_s < 0.3 + 0.25


def test_the_fault_fails_early_client_attempts_with_503_and_no_retry_after(no_retry: LocalStack) -> None:
    tag = _tag("jit")
    with no_retry.connect(options=EXEMPT_FROM_TIMEOUTS) as conn:
        set_fault(conn, fail_attempts=1, for_s=10.0)
        try:
            first = no_retry.entry.request("GET", f"/flaky?tag={tag}", {"X-Retry-Attempt": "1"}, timeout_s=5)
            second = no_retry.entry.request("GET", f"/flaky?tag={tag}", {"X-Retry-Attempt": "2"}, timeout_s=5)
        finally:
            set_fault(conn, for_s=0.0)
    assert first.status == 503 and "retry-after" not in first.headers and body(first)["error"] == "injected_failure"
    assert second.status == 200
    assert [(line["client_attempt"], line["outcome"]) for line in ledger(no_retry, tag)] == [
        (1, "InjectedFailure"), (2, "ok")]


def test_config_reports_the_retry_knobs(recommended: LocalStack, operational_retry: LocalStack) -> None:
    assert recommended.app_settings()["retry_on"] == "serialization"
    settings = operational_retry.app_settings()
    assert (settings["retry_on"], settings["retry_attempts"], settings["retry_budget_ratio"]) == ("operational", 3, 0.0)
    assert settings["idempotency"] is True and settings["statement_timeout"] == "300ms"
