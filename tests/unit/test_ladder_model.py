"""The timeout-ladder's model and judging, without any server (drills.catalog.timeout_ladder).

Ladder.expect predicts which rung answers and when; delays() probes every band between rungs;
classify() names the layer from what the client saw; judge() turns observations into verdicts.
The judge tests feed synthetic observations: matching the predictions gives held, a wrong layer, a
late answer or a lingering query gives failed, and no observations gives inconclusive. This is
the proof that the verdicts depend on the measurements and not on the code path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.catalog.timeout_ladder import (
    CONFIGURATIONS,
    PLACEMENTS,
    Ladder,
    LadderRun,
    LogEvidence,
    Observation,
    Params,
    classify,
    judge,
)
from drills.catalog.timeout_ladder.judge import on_time
from drills.findings import AtLeast, Findings, Hypothesis, Provenance, Verdict
from drills.stack.http import HttpResult

RECOMMENDED = Ladder("recommended", 1.0, 1.5, 2.5, 4.0)
INVERTED = Ladder("inverted", 2.0, 3.0, 1.0, 4.0)
OUTCOMES = {"ok", "database", "app", "proxy-504", "client-timeout"}
ALL_KEYS = {
    "recommended.statement-timeout-on-time", "recommended.budget-on-time", "recommended.innermost-first",
    "recommended.no-proxy-errors", "recommended.no-orphan-queries", "recommended.valid-requests-succeed",
    "inverted.proxy-504",
    "inverted.orphan-queries", "heartbeat.slow-await-survives", "heartbeat.blocked-loop-killed",
}


# -- Ladder.expect -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("ladder", "app_s", "db_s", "expected"), [
    (RECOMMENDED, 0.0, 2.0, ("database", 1.0)),     # the query crosses statement_timeout first
    (RECOMMENDED, 2.0, 0.0, ("app", 1.5)),          # the handler crosses its budget
    (RECOMMENDED, 1.0, 1.0, ("app", 1.5)),          # split: the budget ends before the query's 1 s
    (RECOMMENDED, 0.0, 0.5, ("ok", 0.5)),           # below every rung
    (RECOMMENDED, 0.25, 0.75, ("ok", 1.0)),         # exactly at statement_timeout is not past it
    (RECOMMENDED, 0.2, 1.1, ("database", 1.2)),     # database cuts at app_s + statement_timeout
    (INVERTED, 0.0, 2.5, ("proxy-504", 1.0)),       # the proxy gives up before PostgreSQL does
    (INVERTED, 0.0, 0.5, ("ok", 0.5)),
    (INVERTED, 5.0, 0.0, ("proxy-504", 1.0)),
    (Ladder("client-first", 5.0, 5.0, 5.0, 2.0), 3.0, 0.0, ("client-timeout", 2.0)),
])
def test_expect_predicts_the_innermost_rung(ladder: Ladder, app_s: float, db_s: float, expected) -> None:
    assert ladder.expect(app_s, db_s) == expected


def test_rungs_are_sorted_inside_out() -> None:
    assert [layer for layer, _ in INVERTED.rungs()] == ["proxy", "database", "app", "client"]
    assert RECOMMENDED.rungs() == [("database", 1.0), ("app", 1.5), ("proxy", 2.5), ("client", 4.0)]


timeouts = st.integers(1, 5000).map(lambda ms: ms / 100)  # 10 ms .. 50 s
work = st.integers(0, 6000).map(lambda ms: ms / 100)


@given(ladder=st.builds(Ladder, st.just("any"), timeouts, timeouts, timeouts, timeouts), app_s=work, db_s=work)
def test_property_expect_is_bounded_by_every_rung(ladder: Ladder, app_s: float, db_s: float) -> None:
    """The answer never comes later than the work, the budget, the proxy or the client allow."""
    outcome, at_s = ladder.expect(app_s, db_s)
    assert outcome in OUTCOMES
    assert at_s <= app_s + db_s
    assert at_s <= min(ladder.request_budget_s, ladder.proxy_read_timeout_s, ladder.client_timeout_s)
    if outcome == "ok":
        assert at_s == app_s + db_s and db_s <= ladder.statement_timeout_s
    if outcome == "database":
        assert db_s > ladder.statement_timeout_s and at_s == app_s + ladder.statement_timeout_s
    if app_s + db_s < min(t for _, t in ladder.rungs()):
        assert (outcome, at_s) == ("ok", app_s + db_s)


# -- Ladder.delays -----------------------------------------------------------------------------------


def assert_one_delay_per_band(ladder: Ladder) -> None:
    edges = sorted({t for _, t in ladder.rungs()})
    delays = ladder.delays()
    assert not set(delays) & set(edges), f"a delay sits on a rung: {delays} vs {edges}"
    bands = list(zip([0.0, *edges], [*edges, math.inf]))
    per_band = [sum(low < d < high for d in delays) for low, high in bands]
    assert per_band == [1] * len(bands), (delays, edges)
    assert len(delays) == len(bands)


@pytest.mark.parametrize("ladder", [RECOMMENDED, INVERTED], ids=["recommended", "inverted"])
def test_delays_probe_every_band_and_beyond(ladder: Ladder) -> None:
    assert_one_delay_per_band(ladder)
    assert ladder.delays()[-1] > ladder.client_timeout_s


def test_recommended_delays_exactly() -> None:
    assert RECOMMENDED.delays() == [0.5, 1.25, 2.0, 3.25, 5.0]


@given(st.lists(st.integers(1, 6000), min_size=4, max_size=4, unique=True))
def test_property_delays_one_per_band(centis: list[int]) -> None:
    """For any ladder with distinct rungs on a 10 ms grid: one probe per band, none on a rung."""
    assert_one_delay_per_band(Ladder("any", *(c / 100 for c in centis)))


def test_equal_rungs_make_one_edge() -> None:
    assert_one_delay_per_band(Ladder("flat", 1.0, 1.0, 2.0, 2.0))
    assert Ladder("flat", 1.0, 1.0, 2.0, 2.0).delays() == [0.5, 1.5, 2.5]


def test_close_rungs_still_get_a_probe_between_them() -> None:
    assert_one_delay_per_band(Ladder("close", 1.0, 1.001, 2.0, 3.0))


# -- classify ---------------------------------------------------------------------------------------


NGINX_504 = (b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
             b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@pytest.mark.parametrize(("result", "layer"), [
    (HttpResult(200, b'{"ok": true}', 0.1), "ok"),
    (HttpResult(200, b'{"layer": "database"}', 0.1), "ok"),  # a 200 is ok whatever the body says
    (HttpResult(504, json.dumps({"layer": "database", "sqlstate": "57014"}).encode(), 1.0), "database"),
    (HttpResult(504, b'{"layer": "app", "detail": "budget"}', 1.5), "app"),
    (HttpResult(503, b'{"layer": "pool"}', 0.5), "pool"),
    (HttpResult(504, NGINX_504, 2.5, server="nginx"), "proxy-504"),
    (HttpResult(502, b"<html>502 Bad Gateway</html>", 2.0), "proxy-502"),
    (HttpResult(504, b'{"detail": "no layer"}', 2.5), "proxy-504"),
    (HttpResult(504, b'["layer"]', 2.5), "proxy-504"),
    (HttpResult(504, b"null", 2.5), "proxy-504"),
    (HttpResult(504, b'{"layer": 7}', 2.5), "proxy-504"),
    (HttpResult(502, b"\xff\xfe not utf-8", 2.0), "proxy-502"),
    (HttpResult(500, b"Internal Server Error", 0.1), "http-500"),
    (HttpResult(None, b"", 4.0, failure="timeout"), "client-timeout"),
    (HttpResult(None, b"", 0.0, failure="refused"), "connection-refused"),
    (HttpResult(None, b"", 0.3, failure="reset"), "connection-reset"),
])
def test_classify_names_the_layer(result: HttpResult, layer: str) -> None:
    assert classify(result) == layer


# -- judge on synthetic observations -------------------------------------------------------------------


STATUS = {"ok": 200, "database": 504, "app": 504, "proxy-504": 504, "proxy-502": 502, "client-timeout": None}


def perfect_run(params: Params) -> tuple[list[Observation], dict]:
    """Observations of a stack that does exactly what the model predicts, plus matching log evidence."""
    observations: list[Observation] = []
    n = 0
    for name in ("recommended", "inverted"):
        ladder = params.ladder(name)
        for delay in ladder.delays():
            for placement in PLACEMENTS:
                app_s = {"db": 0.0, "app": delay, "split": delay / 2}[placement]
                db_s = round(delay - app_s, 4)
                expected, at_s = ladder.expect(app_s, db_s)
                for _ in range(params.repeats):
                    n += 1
                    o = Observation(name, placement, delay, app_s, db_s, f"tag{n}", expected, at_s,
                                    outcome=expected, status=STATUS[expected], latency_s=at_s, answered_at=100.0 + at_s)
                    if db_s > 0 and at_s > app_s:  # the query started; did it outlive the answer?
                        ran_until = app_s + min(db_s, ladder.statement_timeout_s, ladder.request_budget_s - app_s)
                        o.query_outlived_s = max(0.0, ran_until - at_s)
                    o.handler_outlived_s = 0.0 if name == "recommended" else None
                    observations.append(o)
    for k in range(params.heartbeat_repeats):
        observations.append(Observation(
            "heartbeat", "await", params.heartbeat_await_s, 0.0, params.heartbeat_await_s, f"hb{k}", "ok",
            params.heartbeat_await_s, outcome="ok", status=200, latency_s=params.heartbeat_await_s + 0.01))
        observations.append(Observation(
            "heartbeat", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "", "proxy-502",
            float(params.gunicorn_timeout_s), outcome="proxy-502", status=502,
            latency_s=params.gunicorn_timeout_s + 0.4))
    evidence = {"inverted": {"upstream_timeouts": 6}, "heartbeat": {"worker_timeouts": params.heartbeat_repeats}}
    return observations, evidence


def as_runs(observations: list[Observation], evidence: dict) -> dict[str, LadderRun]:
    """What measure() returns per configuration, from flat observations and the logs' counts."""
    return {c: LadderRun(c, [o for o in observations if o.configuration == c], LogEvidence(**evidence.get(c, {})))
            for c in CONFIGURATIONS if any(o.configuration == c for o in observations)}


def verdicts(findings: Iterable) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in findings}


def first(observations: list[Observation], **match) -> Observation:
    return next(o for o in observations if all(getattr(o, k) == v for k, v in match.items()))


PARAMS = Params()


def test_the_model_run_covers_every_prediction() -> None:
    """The synthetic run exercises each rung (so the HELD below are not vacuous)."""
    observations, _ = perfect_run(PARAMS)
    expected = {(o.configuration, o.expected) for o in observations}
    assert {("recommended", "database"), ("recommended", "app"), ("recommended", "ok"),
            ("inverted", "proxy-504")} <= expected


def test_observations_matching_predictions_hold() -> None:
    observations, evidence = perfect_run(PARAMS)
    findings = judge(PARAMS, as_runs(observations, evidence))
    assert verdicts(findings) == dict.fromkeys(ALL_KEYS, Verdict.HELD), [(f.key, f.detail) for f in findings]
    assert all(f.samples > 0 for f in findings)


def test_wrong_layer_fails_the_recommended_hypotheses() -> None:
    """A request predicted to be cut by PostgreSQL but answered by nginx's 504 fails the run."""
    observations, evidence = perfect_run(PARAMS)
    o = first(observations, configuration="recommended", expected="database")
    o.outcome, o.status, o.latency_s = "proxy-504", 504, PARAMS.proxy_read_timeout_s
    result = verdicts(judge(PARAMS, as_runs(observations, evidence)))
    assert result["recommended.statement-timeout-on-time"] is Verdict.FAILED
    assert result["recommended.innermost-first"] is Verdict.FAILED
    assert result["recommended.no-proxy-errors"] is Verdict.FAILED
    assert result["recommended.budget-on-time"] is Verdict.HELD  # only the database rung was wrong
    assert result["inverted.proxy-504"] is Verdict.HELD


def test_right_layer_but_late_fails_on_time_only() -> None:
    """Cut by the right layer 200 ms after its timeout: not on time, though still innermost-first."""
    observations, evidence = perfect_run(PARAMS)
    o = first(observations, configuration="recommended", expected="app")
    o.latency_s += 0.2
    result = verdicts(judge(PARAMS, as_runs(observations, evidence)))
    assert result["recommended.budget-on-time"] is Verdict.FAILED
    assert result["recommended.innermost-first"] is Verdict.HELD


def test_lateness_within_tolerance_still_holds() -> None:
    """40 ms late is within the 50 ms tolerance."""
    observations, evidence = perfect_run(PARAMS)
    for o in observations:
        if o.configuration == "recommended" and o.expected == "app":
            o.latency_s += 0.04
    assert verdicts(judge(PARAMS, as_runs(observations, evidence)))["recommended.budget-on-time"] is Verdict.HELD


def test_a_lingering_query_fails_no_orphan_queries() -> None:
    observations, evidence = perfect_run(PARAMS)
    first(observations, configuration="recommended", expected="database").query_outlived_s = 0.5
    assert verdicts(judge(PARAMS, as_runs(observations, evidence)))["recommended.no-orphan-queries"] is Verdict.FAILED


def test_inverted_queries_that_stop_with_the_504_fail_the_orphan_hypothesis() -> None:
    """If nginx's 504 did stop the query, the anti-pattern was not observed."""
    observations, evidence = perfect_run(PARAMS)
    for o in observations:
        if o.configuration == "inverted" and o.placement == "db" and o.outcome == "proxy-504":
            o.query_outlived_s = 0.0
    assert verdicts(judge(PARAMS, as_runs(observations, evidence)))["inverted.orphan-queries"] is Verdict.FAILED


def test_no_worker_timeout_in_the_log_fails_the_heartbeat_kill() -> None:
    observations, evidence = perfect_run(PARAMS)
    evidence["heartbeat"]["worker_timeouts"] = 0
    assert verdicts(judge(PARAMS, as_runs(observations, evidence)))["heartbeat.blocked-loop-killed"] is Verdict.FAILED


def test_a_502_counts_as_a_kill_only_as_often_as_gunicorn_logged_one() -> None:
    """Three 502s in the window but one WORKER TIMEOUT: two of the 502s came from something else."""
    observations, evidence = perfect_run(PARAMS)
    evidence["heartbeat"]["worker_timeouts"] = 1
    finding = {f.key: f for f in judge(PARAMS, as_runs(observations, evidence))}["heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.FAILED and "1/3" in finding.detail


def resent(observations: list[Observation]) -> list[Observation]:
    """Every block resent once by nginx: the client's 502 after two kills."""
    for o in observations:
        if o.placement == "block":
            # a stale cached connection first (fails at once), then two attempts that blocked
            o.attempt_s, o.latency_s = [0.0, PARAMS.gunicorn_timeout_s + 0.4, PARAMS.gunicorn_timeout_s + 0.4], \
                2 * (PARAMS.gunicorn_timeout_s + 0.4)
    return observations


def test_a_502_after_nginx_resent_the_block_holds_when_each_attempt_was_killed() -> None:
    observations, evidence = perfect_run(PARAMS)
    evidence["heartbeat"]["worker_timeouts"] = 2 * PARAMS.heartbeat_repeats
    finding = {f.key: f for f in judge(PARAMS, as_runs(resent(observations), evidence))}["heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.HELD, finding.detail
    assert "(nginx sent it 3×: 0.00" in finding.detail and "resent to another worker 3/3" in finding.detail


def test_a_resent_block_needs_a_kill_for_each_attempt() -> None:
    """Two attempts but one WORKER TIMEOUT per request: half the 502s came from something else."""
    observations, evidence = perfect_run(PARAMS)
    evidence["heartbeat"]["worker_timeouts"] = PARAMS.heartbeat_repeats
    finding = {f.key: f for f in judge(PARAMS, as_runs(resent(observations), evidence))}["heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.FAILED and "1/3" in finding.detail


def test_a_502_that_took_twice_the_window_without_a_resend_fails() -> None:
    """One attempt, yet the 502 came after two windows: not the heartbeat's kill on time."""
    observations, evidence = perfect_run(PARAMS)
    for o in observations:
        if o.placement == "block":
            o.latency_s = 2 * (PARAMS.gunicorn_timeout_s + 0.4)
    finding = {f.key: f for f in judge(PARAMS, as_runs(observations, evidence))}["heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.FAILED


def booted_before_resend(observations: list[Observation], kill_s: float) -> list[Observation]:
    """Every block resent once by nginx to a worker still booting (workers=1): the second attempt
    waited 0.9 s in the listen queue before its handler started, then was killed ``kill_s`` later
    (what the service's start records give); the first was killed ``kill_s`` after it started."""
    boot_s = 0.9
    for o in observations:
        if o.placement == "block":
            o.attempt_s = [kill_s, boot_s + kill_s]
            o.latency_s = 2 * kill_s + boot_s
            o.killed_after_s = [kill_s, kill_s]
    return observations


def test_a_resend_that_waited_for_a_boot_is_judged_from_its_own_start() -> None:
    """Gunicorn timeout 1 s: window 0.35–2.10 s. The second attempt took 0.9 + 1.9 = 2.8 s at nginx,
    past the window, but its handler was killed 1.9 s after it started: on time (a CI run failed
    this way when the window was applied to nginx's attempt, boot included)."""
    params = Params(gunicorn_timeout_s=1, heartbeat_block_s=2.5, heartbeat_await_s=1.5)
    observations, evidence = perfect_run(params)
    evidence["heartbeat"]["worker_timeouts"] = 2 * params.heartbeat_repeats
    finding = {f.key: f for f in judge(params, as_runs(booted_before_resend(observations, 1.9), evidence))}[
        "heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.HELD, finding.detail
    assert "killed 1.90, 1.90 s after it started blocking" in finding.detail


def test_a_kill_late_after_its_own_start_fails() -> None:
    """The same resend, killed 2.3 s after the handler started: past timeout + 1 s (+ tolerance)."""
    params = Params(gunicorn_timeout_s=1, heartbeat_block_s=2.5, heartbeat_await_s=1.5)
    observations, evidence = perfect_run(params)
    evidence["heartbeat"]["worker_timeouts"] = 2 * params.heartbeat_repeats
    finding = {f.key: f for f in judge(params, as_runs(booted_before_resend(observations, 2.3), evidence))}[
        "heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.FAILED, finding.detail


def test_a_block_whose_handler_never_started_is_not_a_kill() -> None:
    """The service recorded no start (records read, none for this tag): the 502 killed nothing it sent."""
    observations, evidence = perfect_run(PARAMS)
    for o in observations:
        if o.placement == "block":
            o.attempt_s, o.killed_after_s = [0.0], []
    finding = {f.key: f for f in judge(PARAMS, as_runs(observations, evidence))}["heartbeat.blocked-loop-killed"]
    assert finding.verdict is Verdict.FAILED and "0/3" in finding.detail


@pytest.mark.parametrize(("starts", "expected"), [
    ([100.1], [1.9]),                   # one attempt, 100.0–102.0: killed 1.9 s after it started
    ([100.1, 103.0], [0.9, 1.9]),       # two back to back: 100.0–101.0 and 101.0–104.9 (booting until 103.0)
    ([], []),
    ([99.0], [math.nan]),               # a start no attempt holds
    ([100.02, 101.01], [0.98, 3.89]),   # the resend began as the first attempt ended: the later attempt's
])
def test_killed_after_measures_from_each_start_to_its_attempts_end(starts, expected) -> None:
    from drills.catalog.timeout_ladder.observations import killed_after

    attempt_s = [2.0] if len(starts) == 1 and starts[0] > 99.5 else [1.0, 0.0, 3.9]
    logged_at = 102.0 if attempt_s == [2.0] else 104.9
    got = killed_after(logged_at, attempt_s, starts)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert (math.isnan(g) and math.isnan(e)) or g == pytest.approx(e)


def test_killed_after_with_two_workers_up_matches_each_start_to_the_attempt_it_began() -> None:
    """make verify, workers=2 (run 20261207T164339Z): nginx sent one block 4× (2.44, 2.05, 0.00, 2.05 s); each
    resend went at once to a worker that was up, so its start lies on the previous attempt's end. Matched to
    the earlier attempt it read "killed -0.00, -0.02 s after it started" and failed the check."""
    from drills.catalog.timeout_ladder.observations import killed_after

    got = killed_after(1006.54, [2.44, 2.05, 0.00, 2.05], [1000.01, 1002.445, 1004.495])
    assert got == pytest.approx([2.43, 2.045, 2.045])


@pytest.mark.parametrize("kind", ["await", "block"])
def test_a_heartbeat_verdict_on_fewer_than_three_requests_is_inconclusive(kind) -> None:
    observations, evidence = perfect_run(PARAMS)
    observations = [o for o in observations if o.placement != kind] + [o for o in observations if o.placement == kind][:2]
    key = {"await": "heartbeat.slow-await-survives", "block": "heartbeat.blocked-loop-killed"}[kind]
    assert verdicts(judge(PARAMS, as_runs(observations, evidence)))[key] is Verdict.INCONCLUSIVE


def test_a_configuration_without_observations_is_inconclusive() -> None:
    """Leave out the recommended run: its hypotheses are inconclusive (never held), the run fails."""
    observations, evidence = perfect_run(PARAMS)
    others = [o for o in observations if o.configuration != "recommended"]
    findings = judge(PARAMS, as_runs(others, evidence))
    result = verdicts(findings)
    assert {k: v for k, v in result.items() if k.startswith("recommended.")} == {
        k: Verdict.INCONCLUSIVE for k in ALL_KEYS if k.startswith("recommended.")}
    assert result["inverted.proxy-504"] is Verdict.HELD
    run = Findings("timeout-ladder", "p.md", "r", "s", "f", {}, Provenance(), {}, findings)
    assert run.passed is False


def test_no_observations_at_all_is_inconclusive_everywhere() -> None:
    assert verdicts(judge(PARAMS, {})) == dict.fromkeys(ALL_KEYS, Verdict.INCONCLUSIVE)


def test_on_time_reports_its_numbers() -> None:
    """on_time's detail carries the counts, the tolerance and the other layers that answered."""
    observations, _ = perfect_run(PARAMS)
    rec = [o for o in observations if o.configuration == "recommended"]
    wrong = first(rec, expected="database")
    wrong.outcome = "proxy-504"
    total = sum(o.expected == "database" for o in rec)
    f = on_time(Hypothesis("recommended.x", "claim", AtLeast(100, "%"), True), rec, "database", PARAMS)
    assert f.verdict is Verdict.FAILED and f.samples == total
    assert f.observed == pytest.approx(100.0 * (total - 1) / total)
    assert f"{total - 1}/{total} answered by database within ±50 ms" in f.detail
    assert "answered by another layer: {'proxy-504': 1}" in f.detail


def test_a_misordered_recommended_ladder_fails_even_when_every_layer_keeps_its_time() -> None:
    """statement_timeout and the budget above the proxy's read timeout: every layer honours its own timeout (the
    model's prediction comes true), yet the proxy answers work that crossed statement_timeout —
    innermost-first and no-proxy-errors must fail, and the run with them."""
    params = Params(statement_timeout_s=3.0, request_budget_s=3.5, proxy_read_timeout_s=2.5)
    observations, evidence = perfect_run(params)
    assert any(o.configuration == "recommended" and o.outcome == "proxy-504" for o in observations)
    findings = judge(params, as_runs(observations, evidence))
    got = verdicts(findings)
    assert got["recommended.innermost-first"] is Verdict.FAILED
    assert got["recommended.no-proxy-errors"] is Verdict.FAILED
    result = Findings(drill="timeout-ladder", paper="p.md", run_id="r", started_at="s", finished_at="f",
                      parameters={}, provenance=Provenance(), settings={}, findings=findings)
    assert not result.passed


@pytest.mark.parametrize("outcome", ["pool", "database", "http-500", "app"])
def test_a_valid_request_cut_by_anything_fails_the_recommended_ladder(outcome) -> None:
    """A request whose work fits every rung must get its 200: a pool 503, an early 504 or a 500 on it
    leaves the crossed-rung checks untouched, so it needs a check of its own."""
    observations, evidence = perfect_run(PARAMS)
    valid = next(o for o in observations if o.configuration == "recommended" and o.expected == "ok")
    valid.outcome = outcome
    finding = {f.key: f for f in judge(PARAMS, as_runs(observations, evidence))}["recommended.valid-requests-succeed"]
    assert finding.verdict is Verdict.FAILED and outcome in finding.detail


def test_no_valid_request_leaves_the_check_inconclusive() -> None:
    observations, evidence = perfect_run(PARAMS)
    observations = [o for o in observations if not (o.configuration == "recommended" and o.expected == "ok")]
    finding = {f.key: f for f in judge(PARAMS, as_runs(observations, evidence))}["recommended.valid-requests-succeed"]
    assert finding.verdict is Verdict.INCONCLUSIVE and finding.samples == 0
