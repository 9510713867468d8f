"""The whole local stack: real PostgreSQL, Gunicorn + Uvicorn, nginx; its errors and its cleanup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from drills.faults.trial import INTERRUPTIBLE
from drills.stack import PostgresConfig, ProxyConfig, ServiceConfig, StackConfig, local_stack
from drills.stack.http import http_get
from drills.stack.ports import port_answers

pytestmark = pytest.mark.slow

FAST = StackConfig(
    postgres=PostgresConfig(settings={"statement_timeout": "400ms"}),
    service=ServiceConfig(workers=1, request_budget_s=0.6, pool_min_size=1, pool_max_size=2),
    proxy=ProxyConfig(read_timeout_s=0.3),
)


def test_each_layer_answers_with_its_own_error(pg_binaries, nginx_binary, no_leftovers) -> None:
    config = StackConfig(
        postgres=PostgresConfig(settings={"statement_timeout": "300ms"}),
        service=ServiceConfig(workers=1, request_budget_s=0.6),
        proxy=ProxyConfig(read_timeout_s=1.5),
    )
    with local_stack(config) as stack:
        port = stack.proxy.port
        ok = http_get(port, "/work?db_s=0.05", timeout_s=5)
        assert ok.status == 200
        db = http_get(port, "/work?db_s=1", timeout_s=5)
        assert db.status == 504 and json.loads(db.body)["layer"] == "database"
        assert json.loads(db.body)["sqlstate"] == "57014"
        assert 0.3 <= db.elapsed_s < 0.3 + 0.2
        app = http_get(port, "/work?app_s=1", timeout_s=5)
        assert app.status == 504 and json.loads(app.body)["error"] == "request_budget_exceeded"
        assert 0.6 <= app.elapsed_s < 0.6 + 0.2
        metrics = http_get(port, "/metrics", timeout_s=5).body.decode()
        assert 'drills_app_gave_up_total{error="query_cancelled",layer="database"} 1.0' in metrics
        assert "drills_pool_size" in metrics


def test_nginx_answers_504_on_a_slow_upstream(pg_binaries, nginx_binary, no_leftovers) -> None:
    with local_stack(FAST) as stack:
        slow = http_get(stack.proxy.port, "/work?app_s=0.5&db_s=0", timeout_s=5)
        assert slow.status == 504
        assert b"nginx" in slow.body and b"layer" not in slow.body  # the proxy's page, not the app's JSON
        assert 0.3 <= slow.elapsed_s < 0.3 + 0.15
        assert "upstream timed out" in stack.proxy.error_log()
        # max_fails=0: the only upstream is not ejected, so the next request goes through at once.
        again = http_get(stack.proxy.port, "/work?db_s=0", timeout_s=5)
        assert again.status == 200


def test_read_back_reports_what_each_component_runs_with(pg_binaries, nginx_binary, no_leftovers) -> None:
    with local_stack(FAST) as stack:
        settings = stack.read_back()
    assert settings["postgres"]["statement_timeout"] == "400ms"
    assert settings["nginx"]["proxy_read_timeout"] == "300ms"
    assert settings["nginx"]["proxy_next_upstream"] == "off"
    assert settings["service"]["gunicorn"]["workers"] == 1
    assert settings["service"]["uvicorn"]["timeout_keep_alive"] == FAST.service.keepalive_s
    assert settings["service"]["app"]["database_session"]["statement_timeout"] == "400ms"
    assert "password" not in json.dumps(settings)


def test_an_exception_inside_the_stack_leaves_nothing(pg_binaries, nginx_binary, no_leftovers) -> None:
    ports = []
    with pytest.raises(RuntimeError, match="drill blew up"), local_stack(FAST) as stack:
        ports = [stack.postgres.port, stack.service.port, stack.proxy.port]
        raise RuntimeError("drill blew up")
    assert not any(port_answers(p) for p in ports)


def test_two_stacks_run_side_by_side(pg_binaries, nginx_binary, no_leftovers) -> None:
    with local_stack(FAST) as one, local_stack(FAST) as two:
        assert {one.proxy.port, one.service.port, one.postgres.port}.isdisjoint(
            {two.proxy.port, two.service.port, two.postgres.port})
        assert http_get(one.proxy.port, "/work?db_s=0", timeout_s=5).status == 200
        assert http_get(two.proxy.port, "/work?db_s=0", timeout_s=5).status == 200


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_running_leaves_nothing(sig, pg_binaries, nginx_binary, no_leftovers,
                                               list_stack_processes) -> None:
    """Ctrl-C (SIGINT) or SIGTERM to a process holding a stack: every part is stopped."""
    script = textwrap.dedent("""
        import signal, sys, time
        from drills.stack import local_stack, StackConfig, ServiceConfig
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # what the drills CLI does
        with local_stack(StackConfig(service=ServiceConfig(workers=1))) as stack:
            print("ready", flush=True)
            time.sleep(120)
    """)
    # INTERRUPTIBLE: a child of a background job inherits SIGINT ignored (see drills.faults.trial).
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert list_stack_processes()
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0


def test_a_killed_owner_leaves_nothing_after_the_next_sweep(pg_binaries, nginx_binary, no_leftovers,
                                                            list_stack_processes) -> None:
    """SIGKILL (a killed kernel) runs no cleanup: children die with their parent, and the next
    run's sweep removes the temp dirs and says so."""
    from drills.stack.leftovers import sweep

    script = textwrap.dedent("""
        import time
        from drills.stack import local_stack, StackConfig, ServiceConfig
        with local_stack(StackConfig(service=ServiceConfig(workers=1))) as stack:
            print(stack.postgres.dir, stack.service.dir, stack.proxy.dir, flush=True)
            time.sleep(120)
    """)
    # INTERRUPTIBLE: a child of a background job inherits SIGINT ignored (see drills.faults.trial).
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + script], stdout=subprocess.PIPE, text=True)
    try:
        dirs = proc.stdout.readline().split()
        assert len(dirs) == 3
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(d in cmd for cmd in list_stack_processes().values() for d in dirs):
        assert time.monotonic() < deadline, "stack processes outlived their SIGKILLed parent"
        time.sleep(0.1)
    removed = sweep()
    assert all(any(line.startswith(d) for line in removed) for d in dirs), removed


def test_service_that_cannot_reach_its_database_exits_early(no_leftovers) -> None:
    """Gunicorn with workers whose pool cannot open: ExitedEarly with Gunicorn's log, not a hang."""
    from drills.errors import ExitedEarly
    from drills.stack.ports import pick_free_port
    from drills.stack.service import Service

    conninfo = f"host=127.0.0.1 port={pick_free_port()} dbname=x user=x connect_timeout=1"
    with pytest.raises(ExitedEarly) as info:
        with Service(ServiceConfig(workers=1, pool_open_timeout_s=1.0, start_timeout_s=45), conninfo):
            pass
    assert "gunicorn" in str(info.value)
    assert "Worker failed to boot" in info.value.log_tail or "PoolTimeout" in info.value.log_tail


def test_nginx_with_a_bad_directive_exits_early(pg_binaries, nginx_binary, no_leftovers) -> None:
    from drills.errors import ExitedEarly
    from drills.stack.proxy import NginxProxy

    with pytest.raises(ExitedEarly) as info, NginxProxy(ProxyConfig(next_upstream="sometimes"), upstream_ports=[9]):
        pass
    assert "proxy_next_upstream" in info.value.log_tail or "sometimes" in info.value.log_tail


def test_replicas_each_take_their_share_of_the_requests(pg_binaries, nginx_binary, no_leftovers) -> None:
    """Two replicas behind nginx: it picks one per request (round-robin), kept-alive connections or
    not, and every replica's pool, metrics, ledger and processes are visible to the drills."""
    from drills.watch import PoolWatch, parse_pool_metrics

    config = StackConfig(service=ServiceConfig(workers=1, pool_min_size=1, pool_max_size=2), replicas=2)
    with local_stack(config) as stack:
        assert len(stack.metrics) == 2 and len(stack.ledger_dirs) == 2 and len(stack.service_pids()) == 4
        assert len({e.port for e in stack.metrics} | {stack.proxy.port}) == 3
        before = [parse_pool_metrics(e.get("/metrics", timeout_s=5).body.decode())["latency_count"] for e in stack.metrics]
        with PoolWatch(stack.connect, stack.metrics, 0.05) as watch:
            for _ in range(40):
                assert http_get(stack.proxy.port, "/work?db_s=0.001", timeout_s=5).status == 200
            time.sleep(0.2)
        watch.check()
        after = [parse_pool_metrics(e.get("/metrics", timeout_s=5).body.decode())["latency_count"] for e in stack.metrics]
        served = [a - b for a, b in zip(after, before, strict=True)]  # /metrics itself is not timed
        assert served == [20, 20], served
        # The watch sums both replicas: two pools of one connection each at least.
        assert watch.readings and watch.readings[-1].size >= 2
        back = stack.read_back()
        assert back["service"]["replicas"] == 2 and back["nginx"]["server"].count("127.0.0.1:") == 2
