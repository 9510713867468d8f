"""The timeout ladder for Flask and Django (drills.catalog.timeout_ladder, notes/framework-drills.md):
parameters checked before anything starts, Gunicorn's rung in the model, the stacks and falsifiers
per configuration, the WSGI hypotheses judged held, failed and inconclusive on synthetic data, the
catalog's variants and the side-by-side block."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from drills import catalog
from drills.catalog.timeout_ladder import (
    DJANGO_SPEC,
    FLASK_SPEC,
    PLACEMENTS,
    SPEC,
    WSGI_CONFIGURATIONS,
    DjangoParams,
    FlaskParams,
    LadderRun,
    LogEvidence,
    Observation,
    Params,
    classify,
    judge,
)
from drills.catalog.timeout_ladder.configurations import GUNICORN_TIMEOUT_S, stack_config
from drills.catalog.timeout_ladder.params import ARBITER_TICK_S
from drills.errors import ParameterError
from drills.export.family import Member, export_family, family_key, render_family
from drills.export.splice import begin_marker, end_marker
from drills.findings import Findings, Provenance, Verdict
from drills.papercheck.structure import check_structure
from drills.pipeline.falsify import unfalsified
from drills.recommended import RECOMMENDED
from drills.stack.http import HttpResult

WSGI_KEYS = [
    "recommended.statement-timeout-on-time", "recommended.budget-on-time", "recommended.valid-requests-succeed",
    "recommended.innermost-first", "recommended.no-proxy-errors", "recommended.no-orphan-queries",
    "recommended.worker-timeout-on-time", "inverted.proxy-504", "inverted.orphan-queries",
    "heartbeat.sync-request-cut", "heartbeat.sync-cut-cancels-query", "gthread.request-not-cut",
]
FASTAPI_KEYS = [
    "recommended.statement-timeout-on-time", "recommended.budget-on-time", "recommended.valid-requests-succeed",
    "recommended.innermost-first", "recommended.no-proxy-errors", "recommended.no-orphan-queries",
    "inverted.proxy-504", "inverted.orphan-queries", "heartbeat.slow-await-survives", "heartbeat.blocked-loop-killed",
]
STATUS = {"ok": 200, "database": 504, "app": 504, "proxy-504": 504, "worker-timeout": 500}
PARAMS = FlaskParams()


# -- parameters --------------------------------------------------------------------------------------


def test_each_framework_has_its_drill_and_refuses_another_framework() -> None:
    assert (Params().framework, FlaskParams().framework, DjangoParams().framework) == ("fastapi", "flask", "django")
    with pytest.raises(ParameterError, match="timeout-ladder-flask runs flask; run timeout-ladder-django"):
        FlaskParams(framework="django")
    with pytest.raises(ParameterError, match="framework"):
        Params.from_mapping({"framework": "pyramid"})


@pytest.mark.parametrize(("changes", "named"), [
    ({"concurrency": 3}, "concurrency"),                  # > workers: the listen queue would add its wait
    ({"sync_timeout_s": 1}, "request_budget_s"),          # Gunicorn's rung inside the budget
    ({"sync_timeout_s": 3}, "sync_timeout_s + 1"),        # the abort could land after the proxy's 4 s
    ({"heartbeat_query_s": 2.5}, "gunicorn_timeout_s + 1"),  # the query could end before the abort
    ({"gthread_threads": 1}, "gthread_threads"),
    ({"configurations": "recommended,overload"}, "configurations"),
])
def test_wsgi_parameters_that_cannot_work_are_refused_by_name(changes, named) -> None:
    with pytest.raises(ParameterError) as info:
        FlaskParams.from_mapping({k: str(v) for k, v in changes.items()})
    assert info.value.name == named


def test_defaults_are_the_recommended_values_scaled() -> None:
    assert PARAMS.sync_timeout_s == 2 == RECOMMENDED.wsgi.sync_timeout_s // 5
    assert PARAMS.gthread_threads == RECOMMENDED.wsgi.gthread_threads
    assert PARAMS.request_budget_s < PARAMS.sync_timeout_s < PARAMS.sync_timeout_s + ARBITER_TICK_S \
        < PARAMS.proxy_read_timeout_s


# -- the model: Gunicorn's rung --------------------------------------------------------------------------


def test_gunicorn_timeout_is_a_rung_of_the_sync_ladder_only() -> None:
    assert ("worker", 2.0) in PARAMS.ladder("recommended").rungs()
    assert all(layer != "worker" for layer, _ in Params().ladder("recommended").rungs())
    assert PARAMS.ladder("inverted").worker_timeout_s is None


@pytest.mark.parametrize(("block_s", "expected"), [
    (1.8, ("ok", 1.8)), (3.5, ("worker-timeout", 2.0)), (5.0, ("worker-timeout", 2.0))])
def test_a_blocked_handler_is_cut_by_gunicorns_rung(block_s, expected) -> None:
    assert PARAMS.ladder("recommended").expect_block(block_s) == expected


def test_without_the_rung_the_proxy_answers_a_blocked_handler() -> None:
    assert Params().ladder("recommended").expect_block(5.0) == ("proxy-504", 4.0)
    assert Params().ladder("recommended").block_delays(ARBITER_TICK_S) == []


def test_block_delays_keep_clear_of_the_abort_window() -> None:
    ladder = PARAMS.ladder("recommended")
    below, above, beyond = ladder.block_delays(ARBITER_TICK_S)
    assert ladder.request_budget_s < below < ladder.worker_timeout_s
    assert ladder.worker_timeout_s + ARBITER_TICK_S < above < ladder.proxy_read_timeout_s < beyond


def test_gunicorns_own_500_is_told_from_the_apps() -> None:
    page = b"<html><head><title>Internal Server Error</title></head><body><h1><p>Internal Server Error</p></h1></body>"
    assert classify(HttpResult(500, page, 2.3)) == "worker-timeout"
    flask_page = b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
    assert classify(HttpResult(500, flask_page, 0.1)) == "http-500"


# -- the stacks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("configuration", "worker_class", "threads", "timeout"), [
    ("recommended", "sync", 1, 2), ("inverted", "sync", 1, GUNICORN_TIMEOUT_S), ("heartbeat", "sync", 1, 2),
    ("gthread", "gthread", 4, 2)])
def test_each_configuration_runs_its_worker_class(configuration, worker_class, threads, timeout) -> None:
    for params in (FlaskParams(), DjangoParams()):
        service = stack_config(params, configuration).service
        assert (service.framework, service.worker_class, service.threads, service.gunicorn_timeout_s) == (
            params.framework, worker_class, threads, timeout)


def test_fastapi_stacks_are_unchanged() -> None:
    service = stack_config(Params(), "recommended").service
    assert (service.framework, service.worker_class, service.gunicorn_timeout_s) == ("fastapi", "uvicorn",
                                                                                   GUNICORN_TIMEOUT_S)


def test_every_wsgi_hypothesis_has_a_falsifier_with_a_harmful_stack() -> None:
    assert unfalsified(FLASK_SPEC.falsifiers, WSGI_KEYS) == []
    by_name = {f.name: f for f in FLASK_SPEC.falsifiers}
    past = by_name["worker-timeout-past-proxy"]
    harmful = past.stack(PARAMS, stack_config(PARAMS, past.configuration)).service
    assert harmful.gunicorn_timeout_s > PARAMS.proxy_read_timeout_s
    every = by_name["timeout-past-every-request"]
    assert every.stack(PARAMS, stack_config(PARAMS, "heartbeat")).service.gunicorn_timeout_s \
        > PARAMS.longest_heartbeat_s() + ARBITER_TICK_S
    sync = by_name["sync-in-gthread-slot"].stack(PARAMS, stack_config(PARAMS, "gthread")).service
    assert (sync.worker_class, sync.threads) == ("sync", 1)
    assert {f.configuration for f in FLASK_SPEC.falsifiers} == set(WSGI_CONFIGURATIONS)


# -- judging on synthetic runs ---------------------------------------------------------------------


def perfect_wsgi_run(params: FlaskParams) -> dict[str, LadderRun]:
    """What a stack that does exactly what the model predicts would show."""
    runs: dict[str, LadderRun] = {}
    n = 0
    for name in ("recommended", "inverted"):
        ladder = params.ladder(name)
        observations = []
        for delay in ladder.delays():
            for placement in PLACEMENTS:
                app_s = {"db": 0.0, "app": delay, "split": delay / 2}[placement]
                db_s = round(delay - app_s, 4)
                expected, at_s = ladder.expect(app_s, db_s)
                n += 1
                o = Observation(name, placement, delay, app_s, db_s, f"t{n}", expected, at_s, outcome=expected,
                                status=STATUS[expected], latency_s=at_s, answered_at=100.0 + at_s)
                if db_s > 0 and at_s > app_s:
                    ran_until = app_s + min(db_s, ladder.statement_timeout_s, ladder.request_budget_s - app_s)
                    o.query_outlived_s = max(0.0, ran_until - at_s)
                observations.append(o)
        for delay in ladder.block_delays(ARBITER_TICK_S):
            expected, at_s = ladder.expect_block(delay)
            latency = at_s + (0.5 if expected == "worker-timeout" else 0.0)
            observations.append(Observation(name, "block", delay, delay, 0.0, "", expected, at_s, outcome=expected,
                                            status=STATUS[expected], latency_s=latency))
        aborts = sum(o.expected == "worker-timeout" for o in observations)
        runs[name] = LadderRun(name, observations, LogEvidence(upstream_timeouts=9, worker_timeouts=aborts))
    timeout = float(params.gunicorn_timeout_s)
    heartbeat = [Observation("heartbeat", "query", params.heartbeat_query_s, 0.0, params.heartbeat_query_s, f"q{k}",
                             "worker-timeout", timeout, outcome="worker-timeout", status=500, latency_s=timeout + 0.4,
                             query_outlived_s=0.0) for k in range(params.heartbeat_repeats)]
    heartbeat += [Observation("heartbeat", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "",
                              "worker-timeout", timeout, outcome="worker-timeout", status=500, latency_s=timeout + 0.7)
                  for _ in range(params.heartbeat_repeats)]
    runs["heartbeat"] = LadderRun("heartbeat", heartbeat, LogEvidence(worker_timeouts=2 * params.heartbeat_repeats))
    runs["gthread"] = LadderRun("gthread", [
        Observation("gthread", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "", "ok",
                    params.heartbeat_block_s, outcome="ok", status=200, latency_s=params.heartbeat_block_s + 0.01)
        for _ in range(params.heartbeat_repeats)], LogEvidence())
    return runs


def verdicts(runs: dict[str, LadderRun], params: FlaskParams = PARAMS) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in judge(params, runs)}


def test_a_stack_that_does_what_the_model_says_holds_every_wsgi_hypothesis() -> None:
    found = verdicts(perfect_wsgi_run(PARAMS))
    assert list(found) == WSGI_KEYS
    assert set(found.values()) == {Verdict.HELD}


def test_fastapi_keeps_its_hypotheses() -> None:
    assert [f.key for f in judge(Params(), {})] == FASTAPI_KEYS


def test_nothing_measured_is_inconclusive_never_held() -> None:
    assert set(verdicts({}).values()) == {Verdict.INCONCLUSIVE}


def _replace(run: LadderRun, placement: str, **changes: object) -> LadderRun:
    return dataclasses.replace(run, observations=[dataclasses.replace(o, **changes) if o.placement == placement
                                                  and o.expected != "ok" else o for o in run.observations])


def test_the_proxy_answering_a_blocked_handler_fails_the_rung() -> None:
    runs = perfect_wsgi_run(PARAMS)
    runs["recommended"] = _replace(runs["recommended"], "block", outcome="proxy-504", status=504, latency_s=4.0)
    found = verdicts(runs)
    assert found["recommended.worker-timeout-on-time"] is Verdict.FAILED
    assert found["recommended.no-proxy-errors"] is Verdict.FAILED


def test_an_abort_outside_its_window_or_without_a_logged_timeout_fails() -> None:
    runs = perfect_wsgi_run(PARAMS)
    late = dict(runs, recommended=_replace(runs["recommended"], "block", latency_s=3.3))
    assert verdicts(late)["recommended.worker-timeout-on-time"] is Verdict.FAILED
    unlogged = dict(runs, recommended=dataclasses.replace(runs["recommended"], evidence=LogEvidence()))
    assert verdicts(unlogged)["recommended.worker-timeout-on-time"] is Verdict.FAILED


def test_a_sync_request_that_completes_fails_the_cut_and_a_query_that_runs_on_fails_the_cancel() -> None:
    runs = perfect_wsgi_run(PARAMS)
    completed = dict(runs, heartbeat=dataclasses.replace(runs["heartbeat"], observations=[
        dataclasses.replace(o, outcome="ok", status=200, latency_s=o.delay_s) for o in runs["heartbeat"].observations],
        evidence=LogEvidence()))
    found = verdicts(completed)
    assert found["heartbeat.sync-request-cut"] is Verdict.FAILED
    assert found["heartbeat.sync-cut-cancels-query"] is Verdict.FAILED
    ran_on = dict(runs, heartbeat=_replace(runs["heartbeat"], "query", query_outlived_s=1.5))
    assert verdicts(ran_on)["heartbeat.sync-cut-cancels-query"] is Verdict.FAILED
    unseen = dict(runs, heartbeat=_replace(runs["heartbeat"], "query", query_outlived_s=None))
    assert verdicts(unseen)["heartbeat.sync-cut-cancels-query"] is Verdict.FAILED
    assert verdicts(ran_on)["heartbeat.sync-request-cut"] is Verdict.HELD


def test_gthread_cut_or_killed_fails_and_too_few_requests_are_inconclusive() -> None:
    runs = perfect_wsgi_run(PARAMS)
    cut = dict(runs, gthread=dataclasses.replace(runs["gthread"], observations=[
        dataclasses.replace(o, outcome="worker-timeout", status=500, latency_s=2.5)
        for o in runs["gthread"].observations]))
    assert verdicts(cut)["gthread.request-not-cut"] is Verdict.FAILED
    logged = dict(runs, gthread=dataclasses.replace(runs["gthread"], evidence=LogEvidence(worker_timeouts=1)))
    assert verdicts(logged)["gthread.request-not-cut"] is Verdict.FAILED
    few = dict(runs, gthread=dataclasses.replace(runs["gthread"], observations=runs["gthread"].observations[:2]))
    assert verdicts(few)["gthread.request-not-cut"] is Verdict.INCONCLUSIVE
    few_hb = dict(runs, heartbeat=dataclasses.replace(runs["heartbeat"], observations=[
        o for o in runs["heartbeat"].observations if o.placement == "query"][:2]))
    assert verdicts(few_hb)["heartbeat.sync-request-cut"] is Verdict.INCONCLUSIVE


# -- the catalog and the CLI's choice of framework ---------------------------------------------------


def test_the_catalog_finds_each_frameworks_variant() -> None:
    assert catalog.get("timeout-ladder", "flask") is FLASK_SPEC
    assert catalog.get("timeout-ladder-flask", "fastapi") is SPEC
    assert catalog.get("timeout-ladder-django") is DJANGO_SPEC
    assert catalog.family("timeout-ladder") == [SPEC, FLASK_SPEC, DJANGO_SPEC]
    with pytest.raises(ParameterError, match="proxy-upstreams runs for fastapi"):
        catalog.get("proxy-upstreams", "flask")
    fastapi = catalog.of_frameworks(["fastapi"])
    assert SPEC in fastapi and FLASK_SPEC not in fastapi and len(fastapi) == 6
    with pytest.raises(ParameterError, match="--framework"):
        catalog.of_frameworks(["rails"])
    assert (FLASK_SPEC.paper, FLASK_SPEC.family_name, FLASK_SPEC.notebook) == (
        SPEC.paper, "timeout-ladder", "timeout-ladder-flask.ipynb")


# -- side by side ------------------------------------------------------------------------------------


def _findings(drill: str, params: FlaskParams | Params, runs: dict[str, LadderRun]) -> Findings:
    prov = Provenance(commit="abc1234")
    return Findings(drill=drill, paper="timeout-ladders.md", run_id=f"20260101T000000Z-{drill}",
                    started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:01:00Z", parameters={},
                    provenance=prov, settings={}, findings=judge(params, runs))


def test_the_family_block_puts_each_frameworks_verdict_beside_the_others(tmp_path: Path) -> None:
    members = [Member("fastapi", "timeout-ladder", _findings("timeout-ladder", Params(), {})),
               Member("flask", "timeout-ladder-flask", _findings("timeout-ladder-flask", PARAMS,
                                                                  perfect_wsgi_run(PARAMS))),
               Member("django", "timeout-ladder-django")]
    block = render_family("timeout-ladder", members)
    assert "| Hypothesis | FastAPI | Flask | Django |" in block
    row = next(line for line in block.splitlines() if line.startswith("| `recommended.worker-timeout-on-time`"))
    assert "— (not this mechanism)" in row and "not run" in row
    assert "(#v-timeout-ladder-flask-recommended-worker-timeout-on-time)" in row and "✅ held" in row
    assert "⚠️ inconclusive" in next(line for line in block.splitlines()
                                    if line.startswith("| `heartbeat.slow-await-survives`"))
    paper = tmp_path / "p.md"
    key = family_key("timeout-ladder")
    paper.write_text(f"# P\n\ntext\n\n{begin_marker(key)}\n{end_marker(key)}\n\nafter\n", encoding="utf-8")
    assert export_family(paper, "timeout-ladder", members)
    assert not export_family(paper, "timeout-ladder", members)  # idempotent
    text = paper.read_text(encoding="utf-8")
    assert text.startswith("# P\n\ntext\n\n") and text.endswith(f"{end_marker(key)}\n\nafter\n")
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n", encoding="utf-8")
    assert not export_family(bare, "timeout-ladder", members)


def test_check_papers_knows_a_family_block() -> None:
    text = f"{begin_marker('timeout-ladder-frameworks')}\n{end_marker('timeout-ladder-frameworks')}\n"
    problems = check_structure(Path("p.md"), text, {"timeout-ladder"})
    assert not [p for p in problems if p.check == "drill"]
