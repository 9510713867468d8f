"""The proxy-upstreams drill's parsing and judging, without any server (drills.catalog.proxy_upstreams).

parse_error_log() reads nginx's error log, parse_ledgers() the service's ledger; judge() turns a
run's requests, log events and executions into verdicts. Each hypothesis is fed synthetic runs: what
the claim says gives held, the other mechanism's outcome gives failed, and a run that is missing or
whose log or ledger could not be read gives inconclusive — the verdicts depend on the measurements.
"""

from __future__ import annotations

import json

import pytest

from drills.catalog import get
from drills.catalog.proxy_upstreams import Params, Request, UpstreamRun, classify, judge, parse_error_log, parse_ledgers
from drills.errors import ParameterError
from drills.findings import Verdict
from drills.stack.http import HttpResult

P = Params()

CLOSED = ('2026/12/03 18:00:00 [error] 7#7: *31 upstream prematurely closed connection while reading response header '
          'from upstream, client: 127.0.0.1, server: , request: "GET /healthz?tag={tag} HTTP/1.1", upstream: '
          '"http://127.0.0.1:4001/healthz?tag={tag}", host: "127.0.0.1:4000"')
RESET = ('2026/12/03 18:00:00 [error] 7#7: *32 recv() failed (104: Connection reset by peer) while reading response '
         'header from upstream, client: 127.0.0.1, server: , request: "GET /healthz?tag={tag} HTTP/1.1"')
NO_LIVE = ('2026/12/03 18:00:01 [error] 7#7: *40 no live upstreams while connecting to upstream, client: 127.0.0.1, '
           'server: , request: "GET /work?tag={tag} HTTP/1.1", upstream: "http://service/work?tag={tag}"')
TIMED_OUT = ('2026/12/03 18:00:01 [error] 7#7: *41 upstream timed out (110: Connection timed out) while reading '
             'response header from upstream, request: "GET /work?app_s=2.0&tag={tag} HTTP/1.1"')


def verdicts(runs: dict[str, UpstreamRun]) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in judge(P, runs)}


def paced(configuration: str, run: str, stale: int, n: int = 32, client_errors: int = 0) -> UpstreamRun:
    requests = [Request(f"ka{k}", "paced", 0.0, 0.002, 200, "ok", burst=k // 16, aim_ms=0.3) for k in range(n)]
    for r in requests[:client_errors]:
        r.status, r.outcome = 502, "proxy-502"
    log = "\n".join(CLOSED.format(tag=f"ka{k}") for k in range(stale))
    events, tags = parse_error_log(log)
    return UpstreamRun(configuration, run, requests, events, tags, {})


def slow(configuration: str, run: str, executions: list[list[int]]) -> UpstreamRun:
    requests = [Request(f"slow{k}", "slow", 0.0, 1.0 * len(e), 504, "proxy-504") for k, e in enumerate(executions)]
    return UpstreamRun(configuration, run, requests, {"timed-out": sum(map(len, executions))}, {},
                       {f"slow{k}": e for k, e in enumerate(executions)})


def probed(configuration: str, run: str, served_by: list[int | None]) -> UpstreamRun:
    """Probes answered by a replica (its index) or turned away by nginx (None: 502, no live upstreams)."""
    probes = [Request(f"probe{k}", "probe", 0.0, 0.003, 200 if rep is not None else 502,
                      "ok" if rep is not None else "proxy-502") for k, rep in enumerate(served_by)]
    log = "\n".join(NO_LIVE.format(tag=r.tag) for r, rep in zip(probes, served_by) if rep is None)
    events, tags = parse_error_log(log)
    executions = {r.tag: [rep] for r, rep in zip(probes, served_by) if rep is not None}
    return UpstreamRun(configuration, run, probes, events, tags, executions)


# -- parsing ------------------------------------------------------------------------------------------


def test_the_error_log_is_read_per_event_with_the_request_it_names() -> None:
    text = "\n".join([CLOSED.format(tag="a"), RESET.format(tag="b"), NO_LIVE.format(tag="c"),
                      TIMED_OUT.format(tag="d"), "2026/12/03 [warn] 7#7: *41 upstream server temporarily disabled "
                      "while reading response header from upstream", "[info] client closed keepalive connection"])
    events, tags = parse_error_log(text)
    assert events == {"stale-closed": 1, "stale-reset": 1, "no-live": 1, "timed-out": 1, "disabled": 1}
    assert tags == {"stale-closed": ["a"], "stale-reset": ["b"], "no-live": ["c"], "timed-out": ["d"]}


def test_the_ledgers_count_every_execution_on_its_replica() -> None:
    line = lambda tag: json.dumps({"tag": tag, "pid": 1, "started_at": 0, "ended_at": 1, "outcome": "ok"})  # noqa: E731
    assert parse_ledgers([f"{line('a')}\n{line('b')}\n", f"{line('a')}\n\n"]) == {"a": [0, 1], "b": [0]}


@pytest.mark.parametrize(("result", "outcome"), [
    (HttpResult(200, b"{}", 0.01), "ok"),
    (HttpResult(502, b"<html>502 Bad Gateway</html>", 0.001), "proxy-502"),
    (HttpResult(504, b"<html>504</html>", 1.0), "proxy-504"),
    (HttpResult(504, b'{"layer": "app"}', 1.0), "app-504"),
    (HttpResult(None, b"", 3.0, failure="timeout"), "client-timeout"),
])
def test_classify_tells_nginx_from_the_service(result: HttpResult, outcome: str) -> None:
    assert classify(result) == outcome


# -- keep-alive ------------------------------------------------------------------------------------------


def test_keepalive_ordered_holds_on_no_stale_error_and_fails_on_one() -> None:
    assert verdicts({"recommended-keepalive": paced("recommended", "recommended-keepalive", 0)})[
        "recommended.keepalive-no-stale-errors"] is Verdict.HELD
    assert verdicts({"recommended-keepalive": paced("recommended", "recommended-keepalive", 1)})[
        "recommended.keepalive-no-stale-errors"] is Verdict.FAILED
    # A 502 the client saw counts even when nginx's log named nothing.
    assert verdicts({"recommended-keepalive": paced("recommended", "recommended-keepalive", 0, client_errors=1)})[
        "recommended.keepalive-no-stale-errors"] is Verdict.FAILED


def test_keepalive_inverted_needs_a_stale_error_and_says_what_the_client_saw() -> None:
    finding = next(f for f in judge(P, {"keepalive-inverted": paced("keepalive-inverted", "keepalive-inverted", 2)})
                   if f.key == "keepalive-inverted.stale-connection-errors")
    assert finding.verdict is Verdict.HELD and finding.observed == 2 and finding.samples == 32
    assert "2 of 32 paced GETs met a connection" in finding.detail and "{'ok': 2}" in finding.detail
    assert verdicts({"keepalive-inverted": paced("keepalive-inverted", "keepalive-inverted", 0)})[
        "keepalive-inverted.stale-connection-errors"] is Verdict.FAILED


def test_keepalive_without_a_readable_log_is_inconclusive() -> None:
    blind = paced("keepalive-inverted", "keepalive-inverted", 0)
    blind.log_events = None
    assert verdicts({"keepalive-inverted": blind})["keepalive-inverted.stale-connection-errors"] is Verdict.INCONCLUSIVE


# -- retry -------------------------------------------------------------------------------------------------


def test_runs_once_and_runs_twice_are_judged_on_the_ledger() -> None:
    once = {"recommended-retry": slow("recommended", "recommended-retry", [[0], [1]]),
            "retry-timeout": slow("retry-timeout", "retry-timeout", [[0, 1], [1, 0]])}
    assert verdicts(once)["recommended.slow-get-runs-once"] is Verdict.HELD
    assert verdicts(once)["retry-timeout.slow-get-runs-twice"] is Verdict.HELD
    swapped = {"recommended-retry": slow("recommended", "recommended-retry", [[0, 1], [1]]),
               "retry-timeout": slow("retry-timeout", "retry-timeout", [[0], [1, 0]])}
    assert verdicts(swapped)["recommended.slow-get-runs-once"] is Verdict.FAILED
    assert verdicts(swapped)["retry-timeout.slow-get-runs-twice"] is Verdict.FAILED


def test_twice_on_the_same_replica_is_not_a_retry_to_the_next() -> None:
    same = {"retry-timeout": slow("retry-timeout", "retry-timeout", [[0, 0], [1, 1]])}
    assert verdicts(same)["retry-timeout.slow-get-runs-twice"] is Verdict.FAILED


def test_a_slow_get_never_executed_does_not_count_as_once() -> None:
    assert verdicts({"recommended-retry": slow("recommended", "recommended-retry", [[], [1]])})[
        "recommended.slow-get-runs-once"] is Verdict.FAILED


def test_retry_without_a_ledger_or_a_run_is_inconclusive() -> None:
    blind = slow("retry-timeout", "retry-timeout", [[0, 1]])
    blind.executions = None
    got = verdicts({"retry-timeout": blind})
    assert got["retry-timeout.slow-get-runs-twice"] is Verdict.INCONCLUSIVE
    assert got["recommended.slow-get-runs-once"] is Verdict.INCONCLUSIVE


# -- ejection ----------------------------------------------------------------------------------------------


def test_ejects_nothing_needs_every_replica_to_answer_probes() -> None:
    both = {"recommended-eject": probed("recommended", "recommended-eject", [0, 1] * 5)}
    assert verdicts(both)["recommended.slow-request-ejects-nothing"] is Verdict.HELD
    one_out = {"recommended-eject": probed("recommended", "recommended-eject", [1] * 10)}
    assert verdicts(one_out)["recommended.slow-request-ejects-nothing"] is Verdict.FAILED
    all_out = {"recommended-eject": probed("recommended", "recommended-eject", [None] * 10)}
    assert verdicts(all_out)["recommended.slow-request-ejects-nothing"] is Verdict.FAILED


def test_no_live_upstreams_needs_every_probe_turned_away_as_nginx_logged_it() -> None:
    assert verdicts({"max-fails-1": probed("max-fails-1", "max-fails-1", [None] * 10)})[
        "max-fails-1.no-live-upstreams"] is Verdict.HELD
    assert verdicts({"max-fails-1": probed("max-fails-1", "max-fails-1", [None] * 9 + [0])})[
        "max-fails-1.no-live-upstreams"] is Verdict.FAILED
    # A 502 nginx did not log as "no live upstreams" is some other failure, not an ejection.
    unlogged = probed("max-fails-1", "max-fails-1", [None] * 10)
    unlogged.log_tags = {}
    assert verdicts({"max-fails-1": unlogged})["max-fails-1.no-live-upstreams"] is Verdict.FAILED


def test_ejection_without_probes_or_a_log_is_inconclusive() -> None:
    empty = probed("max-fails-1", "max-fails-1", [])
    assert verdicts({"max-fails-1": empty})["max-fails-1.no-live-upstreams"] is Verdict.INCONCLUSIVE
    blind = probed("recommended", "recommended-eject", [0, 1])
    blind.log_events = None
    assert verdicts({"recommended-eject": blind})["recommended.slow-request-ejects-nothing"] is Verdict.INCONCLUSIVE


def test_nothing_measured_is_inconclusive_everywhere() -> None:
    assert set(verdicts({}).values()) == {Verdict.INCONCLUSIVE}
    assert len(verdicts({})) == 6


def test_every_hypothesis_has_a_falsifier() -> None:
    from drills.pipeline.falsify import unfalsified

    spec = get("proxy-upstreams")
    assert unfalsified(spec.falsifiers, [f.key for f in spec.judge(spec.params(), {})]) == []


# -- parameters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "named"), [
    ({"replicas": 1}, "replicas"),
    ({"upstream_keepalive_timeout_s": 80.0}, "upstream_keepalive_timeout_s"),
    ({"inverted_gunicorn_keepalive_s": 60, "upstream_keepalive_timeout_s": 60.0}, "inverted_gunicorn_keepalive_s"),
    ({"slow_work_s": 1.1}, "upstream_read_timeout_s"),
    ({"next_upstream_tries": 3}, "next_upstream_tries"),
    ({"max_fails": 1}, "max_fails"),
    ({"slow_requests": 3}, "slow_requests"),
    ({"probes": 50, "probe_interval_s": 0.05}, "probes"),
    ({"keepalive_burst_size": 33}, "keepalive_burst_size"),
    ({"configurations": "recommended,retry"}, "configurations"),
])
def test_impossible_parameters_are_refused_by_name(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping(changes)
    assert named in str(info.value)


def test_the_defaults_are_the_recommended_production_settings_scaled() -> None:
    from drills.catalog.recommended_stack import scaled_s, scaled_whole_s
    from drills.recommended import RECOMMENDED

    stack = get("proxy-upstreams").stack_config(P, "recommended")
    assert stack.proxy.next_upstream == RECOMMENDED.proxy.proxy_next_upstream
    assert stack.proxy.next_upstream_tries == RECOMMENDED.proxy.proxy_next_upstream_tries
    assert stack.proxy.max_fails == RECOMMENDED.proxy.max_fails
    assert stack.proxy.upstream_keepalive == RECOMMENDED.proxy.upstream_keepalive
    assert stack.proxy.upstream_keepalive_timeout_s == scaled_s(RECOMMENDED.proxy.upstream_keepalive_timeout_s)
    assert stack.service.keepalive_s == scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s)
    assert stack.proxy.fail_timeout_s == scaled_whole_s(RECOMMENDED.proxy.fail_timeout_s)
    assert stack.replicas == 2
