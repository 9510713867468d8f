"""The service under test in FastAPI, Flask and Django on the real stack (PostgreSQL, Gunicorn, nginx).

One stack per framework and worker class, small parameters: ``/work`` answers with the same
headers and body shape, ``/config`` reads the settings back, the named errors keep their layer,
and two mechanisms of FACTS-wsgi §1.1 are measured against the clock: under ``sync`` Gunicorn's
``timeout`` aborts a request that blocks longer (the client gets Gunicorn's own 500 through nginx),
under ``gthread`` it does not (the request runs to its end and answers 200).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from drills.stack import PostgresConfig, ProxyConfig, ServiceConfig, StackConfig, local_stack
from drills.stack.http import HttpResult, http_get
from drills.watch import parse_pool_metrics

pytestmark = pytest.mark.slow

STATEMENT_TIMEOUT_S = 0.3
BUDGET_S = 0.6
POOL_TIMEOUT_S = 0.1
GUNICORN_TIMEOUT_S = 2
#: Gunicorn's arbiter checks its workers about once a second (FACTS-wsgi §1.1: 2.61 s for 2 s).
ARBITER_TICK_S = 1.3
SERVER_TIMING = re.compile(r"^pool;dur=\d+\.\d\d, handler;dur=\d+\.\d\d$")
WORK_BODY = {"app_s", "db_s", "pid", "elapsed_s"}

STACKS = [("fastapi", "uvicorn", 1), ("flask", "sync", 1), ("flask", "gthread", 2),
          ("django", "sync", 1), ("django", "gthread", 2)]


def config(framework: str, worker_class: str, threads: int) -> StackConfig:
    return StackConfig(
        postgres=PostgresConfig(settings={"statement_timeout": f"{STATEMENT_TIMEOUT_S * 1000:.0f}ms"}),
        service=ServiceConfig(framework=framework, worker_class=worker_class, threads=threads, workers=1,
                              pool_min_size=1, pool_max_size=1, pool_timeout_s=POOL_TIMEOUT_S,
                              request_budget_s=BUDGET_S, gunicorn_timeout_s=GUNICORN_TIMEOUT_S),
        proxy=ProxyConfig(read_timeout_s=10.0),
    )


def get_with_headers(port: int, path: str, timeout_s: float = 10.0) -> tuple[HttpResult, dict[str, str]]:
    """http_get keeps only the Server header; the drills' parsers read these too. Header names
    lowercased: Starlette sends ``server-timing``, Werkzeug and Django ``Server-Timing``."""
    import http.client

    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return HttpResult(response.status, body, time.monotonic() - started), headers
    finally:
        conn.close()


def gave_up(port: int, path: str) -> tuple[HttpResult, dict, dict[str, str]]:
    result, headers = get_with_headers(port, path)
    return result, json.loads(result.body), headers


@pytest.mark.parametrize(("framework", "worker_class", "threads"), STACKS,
                         ids=[f"{f}-{w}" for f, w, _ in STACKS])
def test_the_service_behaves_alike_in_each_framework(framework, worker_class, threads, pg_binaries, nginx_binary,
                                                     no_leftovers) -> None:
    with local_stack(config(framework, worker_class, threads)) as stack:
        port = stack.proxy.port

        # /work: same headers, same body, a ledger line for its tag.
        ok, headers = get_with_headers(port, "/work?db_s=0.05&tag=shape1")
        assert ok.status == 200, ok.body
        assert SERVER_TIMING.match(headers["server-timing"]), headers
        body = json.loads(ok.body)
        assert set(body) == WORK_BODY and body["db_s"] == 0.05
        ledger = "".join(p.read_text() for p in stack.service.state_dir.glob("ledger-*.jsonl"))
        assert json.loads(ledger.splitlines()[0])["outcome"] == "ok"
        assert get_with_headers(port, "/work?db_s=-1")[0].status == 422

        # /config and the read-back name the framework, the worker class and the pool.
        read = stack.service.effective_settings()
        assert (read["framework"], read["worker_class"], read["threads"]) == (
            framework, stack.config.service.gunicorn_worker_class, threads)
        assert read["gunicorn"]["timeout"] == GUNICORN_TIMEOUT_S
        assert read["app"]["app"]["pool_max_size"] == 1 and read["app"]["app"]["pool_timeout_s"] == POOL_TIMEOUT_S
        assert read["app"]["database_session"]["statement_timeout"] == "300ms"
        assert read["app"]["pool"]["pool_max"] == 1
        assert (read["uvicorn"] is None) == (framework != "fastapi")

        # statement_timeout (57014): the database's 504, at the timeout.
        db, db_body, db_headers = gave_up(port, "/work?db_s=1")
        assert (db.status, db_body["layer"], db_body["error"], db_body["sqlstate"]) == (
            504, "database", "query_cancelled", "57014")
        assert db_headers["x-timeout-layer"] == "database"
        assert STATEMENT_TIMEOUT_S <= db.elapsed_s < STATEMENT_TIMEOUT_S + 0.2

        # The request budget cuts a query that would outlive it (0.4 s in the app, then a query
        # the statement timeout would end at 0.7 s): the app's 504 at 0.6 s.
        app, app_body, app_headers = gave_up(port, "/work?app_s=0.4&db_s=1")
        assert (app.status, app_body["layer"], app_body["error"]) == (504, "app", "request_budget_exceeded")
        assert app_headers["x-drills-error"] == "request_budget_exceeded"
        assert BUDGET_S <= app.elapsed_s < BUDGET_S + 0.2

        # Two requests at once on a pool of one: a second in-process request waits POOL_TIMEOUT_S,
        # then gets the named 503; a sync worker never runs the second one beside the first
        # (it waits in the listen queue, then gets the connection at once).
        with ThreadPoolExecutor(2) as both:
            first = both.submit(get_with_headers, port, "/work?db_s=0.25")
            time.sleep(0.05)
            second = both.submit(get_with_headers, port, "/work?db_s=0")
            (held, _), (late, late_headers) = first.result(), second.result()
        assert held.status == 200
        if worker_class == "sync":
            assert late.status == 200 and late.elapsed_s >= 0.15, late
            waited_ms = float(re.search(r"pool;dur=([\d.]+)", late_headers["server-timing"]).group(1))
            assert waited_ms < 20
        else:
            late_body = json.loads(late.body)
            assert (late.status, late_body["layer"], late_body["error"]) == (503, "pool", "pool_timeout"), late
            assert late_headers["x-timeout-layer"] == "pool"
            assert POOL_TIMEOUT_S <= late.elapsed_s < POOL_TIMEOUT_S + 0.15
        # /metrics as the drills' sampler reads it: the pool's counters arrive within a sampling tick.
        deadline = time.monotonic() + 2
        while True:
            text = http_get(stack.service.port, "/metrics", timeout_s=5).body.decode()
            pool = parse_pool_metrics(text)
            if pool["request_errors_total"] >= (worker_class != "sync") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert 'drills_app_gave_up_total{error="query_cancelled",layer="database"} 1.0' in text
        assert pool["request_errors_total"] == (0 if worker_class == "sync" else 1), pool
        assert pool["requests_total"] >= 5 and pool["latency_count"] >= 6, pool

        print(f"{framework}-{worker_class}: statement 504 after {db.elapsed_s:.3f} s; budget 504 after "
              f"{app.elapsed_s:.3f} s; second request on a pool of one: {late.status} after {late.elapsed_s:.3f} s")
        if framework == "fastapi":
            return  # Gunicorn's timeout on Uvicorn workers: FACTS.md §1, the timeout ladder's drill
        # Gunicorn's timeout against a handler blocked for longer than it.
        block_s = GUNICORN_TIMEOUT_S + 1.5
        blocked, blocked_headers = get_with_headers(port, f"/block?s={block_s}")
        log = stack.service.log_text()
        if worker_class == "sync":
            # Aborted: SIGABRT -> SystemExit in the handler -> Gunicorn's own 500, passed on by nginx.
            assert blocked.status == 500 and b"Internal Server Error" in blocked.body, blocked
            assert "x-timeout-layer" not in blocked_headers
            assert GUNICORN_TIMEOUT_S <= blocked.elapsed_s < GUNICORN_TIMEOUT_S + ARBITER_TICK_S, blocked
            assert "WORKER TIMEOUT" in log and "SystemExit" in log
            # The master boots a new worker, which opens its pool and answers again.
            deadline = time.monotonic() + 10
            while (after := http_get(stack.service.port, "/readyz", timeout_s=2)).status != 200:
                assert time.monotonic() < deadline, "no worker came back after the abort"
                time.sleep(0.1)
            assert json.loads(after.body)["pid"] != body["pid"]
        else:
            # Not aborted: gthread's main thread keeps telling the arbiter it is alive.
            assert blocked.status == 200 and json.loads(blocked.body)["blocked_s"] == block_s
            assert block_s <= blocked.elapsed_s < block_s + 0.3
            assert "WORKER TIMEOUT" not in log
        print(f"{framework}-{worker_class}: /block?s={block_s} -> {blocked.status} after {blocked.elapsed_s:.2f} s")
