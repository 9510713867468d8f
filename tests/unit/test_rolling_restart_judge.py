"""The rolling-restart drill's judges on synthetic records: each hypothesis held, failed and
inconclusive, and its parameters and falsifiers checked before anything starts."""

from __future__ import annotations

from typing import Any

import pytest

from drills.catalog.rolling_restart import SPEC, Params
from drills.catalog.rolling_restart.configurations import stack_config
from drills.catalog.rolling_restart.judge import (
    beyond_graceful_cut,
    exits_within_grace,
    in_flight_complete,
    keepalive_ordered,
    no_errors,
    pool_closes_after_last_request,
    stale_posts_fail,
    upstream_failures,
)
from drills.catalog.rolling_restart.observations import (
    DrainRequest,
    NginxEvent,
    RestartRecord,
    RollingRun,
    parse_error_log,
)
from drills.errors import ParameterError
from drills.findings import Verdict

P = Params()
T0 = 1_000.0
PORTS = (9001, 9002)


def restart(replica: int, at: float, *, pre_stop: float = 2.0, lag: float = 1.0, drain: float = 0.3,
            killed: bool = False) -> RestartRecord:
    """A replica deleted at ``at``: dropped after ``lag``, SIGTERM after ``pre_stop``, exit ``drain`` later."""
    sigterm = at + pre_stop
    exited = sigterm + drain
    return RestartRecord(replica, PORTS[replica], at, at + lag + 0.05, sigterm, exited, -9 if killed else 0, killed,
                         exited + 0.01, exited + 2.0, exited + 2.1, (100 + 10 * replica, 101 + 10 * replica),
                         (200 + 10 * replica, 201 + 10 * replica))


def steady(start: float, end: float, rps: float = P.load_rps, bad: dict[int, str] | None = None) -> list[dict[str, Any]]:
    out = []
    k = 0
    while start + k / rps < end:
        status: int | None = 200
        failure = None
        kind = (bad or {}).get(k)
        if kind is not None:
            status, failure = (int(kind[5:]), None) if kind.startswith("http-") else (None, kind)
        due = start + k / rps
        out.append({"index": k, "method": "GET" if k % 2 == 0 else "POST", "tag": f"rr{k:06d}", "due_at": due,
                    "sent_at": due, "answered_at": due + 0.03, "status": status, "failure": failure, "late": False})
        k += 1
    return out


def rolling_run(run: str, *, pre_stop: float = 2.0, nginx: list[NginxEvent] | None = None,
                bad: dict[int, str] | None = None, rps: float = P.load_rps) -> RollingRun:
    restarts = [restart(0, T0, pre_stop=pre_stop), restart(1, T0 + 8.0, pre_stop=pre_stop)]
    return RollingRun("recommended" if run.startswith("recommended") else "no-prestop", run, restarts,
                      sent=steady(T0 - 1.0, restarts[-1].back_live_at + 1.0, rps, bad), nginx=nginx or [])


# -- recommended-rolling.no-errors -----------------------------------------------------------------


def test_a_quiet_rolling_restart_holds() -> None:
    finding = no_errors(P, rolling_run("recommended-rolling"))
    assert finding.verdict is Verdict.HELD and finding.observed == 0


def test_one_client_error_or_one_logged_failure_fails_it() -> None:
    assert no_errors(P, rolling_run("recommended-rolling", bad={100: "http-502"})).verdict is Verdict.FAILED
    silent = rolling_run("recommended-rolling", nginx=[NginxEvent("refused", "rr000100", PORTS[0])])
    finding = no_errors(P, silent)
    assert finding.verdict is Verdict.FAILED and "refused" in finding.detail


def test_no_load_or_no_log_is_inconclusive() -> None:
    assert no_errors(P, rolling_run("recommended-rolling", rps=2.0)).verdict is Verdict.INCONCLUSIVE
    assert no_errors(P, None).verdict is Verdict.INCONCLUSIVE
    unread = rolling_run("recommended-rolling")
    unread.nginx = None
    assert no_errors(P, unread).verdict is Verdict.INCONCLUSIVE


# -- no-prestop.upstream-failures ------------------------------------------------------------------


def _gap_failures(run: RollingRun, replicas: tuple[int, ...]) -> list[NginxEvent]:
    return [NginxEvent("refused", "rr000001", PORTS[r]) for r in replicas]


def test_failed_attempts_on_every_stopping_replica_hold() -> None:
    run = rolling_run("no-prestop", pre_stop=0.0)
    run.nginx = _gap_failures(run, (0, 1))
    assert upstream_failures(P, run).verdict is Verdict.HELD


def test_a_restart_without_failed_attempts_fails_it() -> None:
    run = rolling_run("no-prestop", pre_stop=0.0)
    run.nginx = _gap_failures(run, (0,)) + [NginxEvent("refused", "rr000002", 7777)]  # another port: not it
    assert upstream_failures(P, run).verdict is Verdict.FAILED


def test_a_gap_without_traffic_is_inconclusive() -> None:
    run = rolling_run("no-prestop", pre_stop=0.0, rps=2.0)
    run.nginx = _gap_failures(run, (0, 1))
    assert upstream_failures(P, run).verdict is Verdict.INCONCLUSIVE


def test_with_the_prestop_the_same_window_shows_no_failure() -> None:
    # The load is counted while the proxy still lists the replica, whatever the stack: with the
    # preStop the replica still listened then, nothing failed, and the harm's claim fails.
    assert upstream_failures(P, rolling_run("recommended-rolling")).verdict is Verdict.FAILED


# -- the drain ----------------------------------------------------------------------------------------


def drain_run(*, within_ok: bool = True, queried_after: bool = True, pool_margin_s: float = 0.05,
              sessions_margin_s: float = 0.06, beyond_cut: bool = True, killed: bool = False,
              beyond_drain_s: float = 4.1) -> RollingRun:
    r0 = restart(0, T0, drain=1.6)
    r1 = restart(1, T0 + 10.0, drain=beyond_drain_s, killed=killed)
    requests, inflight, lifecycle = [], [], []
    for k in range(2 * P.drain_repeats):
        tag = f"dw{k:04d}"
        pid = r0.old_workers[0]
        requests.append(DrainRequest("within", "GET" if k % 2 == 0 else "POST", tag, T0 - 0.2,
                                     status=200 if within_ok else 503))
        inflight.append({"event": "begin", "tag": tag, "pid": pid, "at": T0 - 0.19, "replica": 0})
        end_at = r0.sigterm_at + 1.5
        inflight.append({"event": "end", "tag": tag, "pid": pid, "at": end_at, "replica": 0,
                         "queried_at": end_at - 0.01 if queried_after else T0,
                         "outcome": "ok" if within_ok else "PoolClosed"})
    last_end = r0.sigterm_at + 1.5
    lifecycle += [{"event": "sigterm", "pid": r0.old_workers[0], "at": r0.sigterm_at},
                  {"event": "pool-closed", "pid": r0.old_workers[0], "at": last_end + pool_margin_s}]
    sessions = [{"application_name": f"drills-service-{r0.old_workers[0]}", "backend_pid": 5, "session_s": 3.0,
                 "at": last_end + sessions_margin_s}] * 2
    for k in range(2 * P.drain_repeats):
        tag = f"db{k:04d}"
        pid = r1.old_workers[0]
        requests.append(DrainRequest("beyond", "GET" if k % 2 == 0 else "POST", tag, r1.deleted_at - 0.2,
                                     status=None if beyond_cut else 200, failure="closed" if beyond_cut else None))
        inflight.append({"event": "begin", "tag": tag, "pid": pid, "at": r1.deleted_at - 0.19, "replica": 1})
        if not beyond_cut:
            inflight.append({"event": "end", "tag": tag, "pid": pid, "at": r1.sigterm_at + 5.5, "replica": 1,
                             "queried_at": r1.sigterm_at + 5.5, "outcome": "ok"})
    lifecycle.append({"event": "sigterm", "pid": r1.old_workers[0], "at": r1.sigterm_at})
    if not beyond_cut:
        lifecycle.append({"event": "shutdown-begin", "pid": r1.old_workers[0], "at": r1.sigterm_at + 5.6})
    return RollingRun("recommended", "recommended-drain", [r0, r1], drain=requests, nginx=[], inflight=inflight,
                      lifecycle=lifecycle, disconnections=sessions)


def test_the_drain_holds_when_everything_ends_in_order() -> None:
    run = drain_run()
    for judge in (in_flight_complete, pool_closes_after_last_request, beyond_graceful_cut, exits_within_grace):
        finding = judge(P, run)
        assert finding.verdict is Verdict.HELD, (finding.key, finding.detail)


def test_a_cut_or_poolless_in_flight_request_fails_in_flight_complete() -> None:
    assert in_flight_complete(P, drain_run(within_ok=False)).verdict is Verdict.FAILED
    assert in_flight_complete(P, drain_run(queried_after=False)).verdict is Verdict.FAILED


def test_a_pool_closed_before_the_last_request_fails() -> None:
    assert pool_closes_after_last_request(P, drain_run(pool_margin_s=-1.4)).verdict is Verdict.FAILED
    assert pool_closes_after_last_request(P, drain_run(sessions_margin_s=-1.0)).verdict is Verdict.FAILED
    # PostgreSQL logs milliseconds: a session ending with the request may read up to 1 ms early.
    assert pool_closes_after_last_request(P, drain_run(sessions_margin_s=-0.0009)).verdict is Verdict.HELD


def test_beyond_requests_that_finish_fail_the_cut() -> None:
    assert beyond_graceful_cut(P, drain_run(beyond_cut=False)).verdict is Verdict.FAILED


def test_a_kubelet_kill_fails_exits_within_grace() -> None:
    assert exits_within_grace(P, drain_run(killed=True, beyond_drain_s=4.0)).verdict is Verdict.FAILED
    assert exits_within_grace(P, drain_run(beyond_drain_s=7.0)).verdict is Verdict.FAILED  # 2 + 7 > 8 s


def test_the_drain_without_records_is_inconclusive() -> None:
    run = drain_run()
    run.inflight = run.lifecycle = run.disconnections = None
    for judge in (in_flight_complete, pool_closes_after_last_request, beyond_graceful_cut):
        assert judge(P, run).verdict is Verdict.INCONCLUSIVE
    for judge in (in_flight_complete, pool_closes_after_last_request, beyond_graceful_cut, exits_within_grace):
        assert judge(P, None).verdict is Verdict.INCONCLUSIVE
    crossed_nothing = drain_run()
    crossed_nothing.inflight = [r for r in crossed_nothing.inflight or [] if r["event"] != "begin"]
    assert in_flight_complete(P, crossed_nothing).verdict is Verdict.INCONCLUSIVE


# -- the keep-alive race ---------------------------------------------------------------------------


def paced_run(run: str, *, stale: dict[str, int]) -> RollingRun:
    """Two bursts of four POSTs; ``stale``: tag -> what the client got after nginx logged it stale."""
    requests = [DrainRequest("paced", "POST", f"ka{b:03d}{k:03d}", T0 + b, status=200, burst=b)
                for b in range(3) for k in range(4)]
    for q in requests:
        q.status = stale.get(q.tag, 200)
    events = [NginxEvent("premature-close", tag, PORTS[0]) for tag in stale]
    return RollingRun("recommended" if run.startswith("recommended") else "keepalive-inverted", run, [],
                      drain=requests, nginx=events)


def test_keepalive_ordered_holds_without_stale_connections_and_fails_with_one() -> None:
    assert keepalive_ordered(paced_run("recommended-keepalive", stale={})).verdict is Verdict.HELD
    assert keepalive_ordered(paced_run("recommended-keepalive", stale={"ka001002": 200})).verdict is Verdict.FAILED
    assert keepalive_ordered(None).verdict is Verdict.INCONCLUSIVE


def test_a_stale_post_answered_502_holds_the_inverted_claim() -> None:
    finding = stale_posts_fail(paced_run("keepalive-inverted", stale={"ka001002": 502, "ka002000": 200}))
    assert finding.verdict is Verdict.HELD and finding.observed == 1
    assert stale_posts_fail(paced_run("keepalive-inverted", stale={})).verdict is Verdict.FAILED
    unread = paced_run("keepalive-inverted", stale={})
    unread.nginx = None
    assert stale_posts_fail(unread).verdict is Verdict.INCONCLUSIVE


# -- what is read, checked and declared ------------------------------------------------------------


def test_nginx_lines_are_attributed_to_a_request_and_an_upstream() -> None:
    log = ('2026/12/07 14:15:50 [error] 7#7: *9 connect() failed (111: Connection refused) while connecting to '
           'upstream, client: 127.0.0.1, server: , request: "POST /inflight?app_s=0.02&tag=rr000012 HTTP/1.1", '
           'upstream: "http://127.0.0.1:9001/inflight?app_s=0.02&tag=rr000012", host: "127.0.0.1:80"\n'
           '2026/12/07 14:15:50 [warn] 7#7: *9 upstream server temporarily disabled while connecting to upstream, '
           'client: 127.0.0.1, request: "GET /x?tag=rr1 HTTP/1.1", upstream: "http://127.0.0.1:9002/x"\n'
           "2026/12/07 14:15:51 [notice] 1#1: reconfiguring\n")
    assert parse_error_log(log) == [NginxEvent("refused", "rr000012", 9001), NginxEvent("disabled", "rr1", 9002)]


@pytest.mark.parametrize(("changes", "names"), [
    ({"endpoint_lag_s": 1.8}, "endpoint_lag_s"),
    ({"termination_grace_s": 5.0}, "pre_stop_s + graceful_timeout_s"),
    ({"drain_within_s": 3.8}, "drain_within_s"),
    ({"upstream_keepalive_timeout_s": 20.0}, "upstream_keepalive_timeout_s"),
    ({"replicas": 1}, "replicas"),
])
def test_parameters_that_cannot_work_are_refused(changes: dict[str, Any], names: str) -> None:
    with pytest.raises(ParameterError, match=names.split(" ")[0]):
        P.replace(**changes)


def test_every_hypothesis_has_a_falsifier_and_the_stacks_differ_where_they_should() -> None:
    keys = {f.key for f in SPEC.judge(P, {})}
    caught = {k for f in SPEC.falsifiers for k in f.catches}
    assert keys == caught
    recommended = stack_config(P, "recommended")
    assert recommended.rollout is not None and recommended.rollout.pre_stop_s == 2.0
    assert recommended.rollout.termination_grace_s == 8.0 and recommended.service.graceful_timeout_s == 4
    for falsifier in SPEC.falsifiers:
        slot = stack_config(P, falsifier.configuration)
        assert falsifier.stack(P, slot) != slot, falsifier.name
