"""The Flask and Django pool drill's arithmetic, parameter checks, stacks, falsifiers, and judging on
synthetic measurements: every hypothesis held, failed and inconclusive, so that each verdict depends
on what was measured and not on the code path."""

from __future__ import annotations

import pytest

from drills.catalog.pool_exhaustion import Run
from drills.catalog.pool_exhaustion.wsgi import DJANGO_SPEC, FLASK_SPEC, DjangoPoolParams, FlaskPoolParams, judge
from drills.catalog.pool_exhaustion.wsgi.configurations import stack_config
from drills.catalog.pool_exhaustion.wsgi.falsifiers import FALSIFIERS
from drills.errors import ParameterError
from drills.findings import Finding, Verdict
from drills.pipeline.falsify import unfalsified
from drills.stack.loadgen import LoadPlan, LoadResult, LoadStep, Sample, Samples
from drills.watch import PoolReading

P = FlaskPoolParams()
T0 = 1000.0
HELD, FAILED, INCONCLUSIVE = Verdict.HELD, Verdict.FAILED, Verdict.INCONCLUSIVE
KEYS = ["recommended.server-connections-bounded", "recommended.capacity-littles-law", "gthread.pool-503-on-time"]


def test_arithmetic() -> None:
    assert (P.budget, P.slots, P.plateau_users()) == (8, 8, [16, 32])
    # Little's law with threads below the pool: the threads bound it.
    assert FlaskPoolParams(threads=8, pool_max_size=4, workers=2).slots / P.hold_s == pytest.approx(80)
    assert P.pool_503_window_ms() == pytest.approx((950.0, 1300.0))
    assert P.longest_admitted_ms() == pytest.approx(5300.0)
    # The frameworks' 30 s default, scaled as the load drills scale: past nginx's 10 s.
    assert P.default_pool_timeout_s() == 15.0 > P.proxy_read_timeout_s


@pytest.mark.parametrize(("changes", "name"), [
    ({"framework": "django"}, "framework"),  # the Flask drill runs Flask
    ({"framework": "rails"}, "framework"),
    ({"pool_min_size": 4}, "pool_min_size"),  # the bound would be met at boot
    ({"pool_min_size": 0}, "pool_min_size"),  # QueuePool's pool_size 0 means no limit
    ({"threads": 5}, "threads"),  # a pool two larger than declared would not show
    ({"concurrency_steps": "16,4"}, "concurrency_steps"),
    ({"concurrency_steps": "4,8"}, "concurrency_steps"),  # no step past 2 × slots
    ({"exhaust_users": 8}, "exhaust_users"),  # no more users than the pools' connections
    ({"exhaust_threads": 20}, "exhaust_threads"),  # requests would wait for a thread
    ({"exhaust_hold_s": 0.5}, "pool_timeout_s"),  # waiters would get a connection in time
    ({"exhaust_hold_s": 9.5}, "exhaust_hold_s + pool_timeout_s"),  # admitted ones past nginx
    ({"exhaust_s": 8.0}, "proxy_read_timeout_s"),  # a hang past nginx would not be seen
    ({"configurations": "recommended,bounded"}, "configurations"),  # max_waiting is FastAPI's
    ({"max_waiting": 4}, "max_waiting"),
])
def test_bad_parameters_are_refused_with_their_name(changes: dict, name: str) -> None:
    with pytest.raises(ParameterError) as info:
        FlaskPoolParams.from_mapping({k: str(v) for k, v in changes.items()})
    assert info.value.name == name
    assert "\n" not in str(info.value)


def test_django_runs_django_with_the_same_knobs() -> None:
    assert DjangoPoolParams().framework == "django" and DJANGO_SPEC.params is DjangoPoolParams
    with pytest.raises(ParameterError, match="pool-exhaustion-django runs django; run pool-exhaustion-flask"):
        DjangoPoolParams(framework="flask")
    assert (FLASK_SPEC.name, DJANGO_SPEC.name) == ("pool-exhaustion-flask", "pool-exhaustion-django")
    assert FLASK_SPEC.family == DJANGO_SPEC.family == "pool-exhaustion"


def test_stacks_run_gthread_with_more_threads_than_connections() -> None:
    for spec in (FLASK_SPEC, DJANGO_SPEC):
        params = spec.params()
        rec, exhaust = stack_config(params, "recommended"), stack_config(params, "gthread")
        assert (rec.service.framework, rec.service.worker_class, rec.service.threads) == (spec.framework, "gthread", 8)
        assert exhaust.service.threads == 40 > exhaust.service.pool_max_size == 4
        assert rec.service.pool_min_size == 1 and rec.service.pool_timeout_s == 1.0
        assert rec.proxy.read_timeout_s == 10.0 and rec.replicas == 2 and rec.service.workers == 1


def test_every_hypothesis_has_a_falsifier_that_changes_its_stack() -> None:
    keys = {f.key for f in judge(P, {})}
    assert keys == set(KEYS)
    assert unfalsified(FALSIFIERS, sorted(keys)) == []
    for falsifier in FALSIFIERS:
        base = stack_config(P, falsifier.configuration)
        assert falsifier.stack(P, base) != base, falsifier.name
    by_name = {f.name: f for f in FALSIFIERS}
    assert by_name["pool-larger-than-declared"].stack(P, stack_config(P, "recommended")).service.pool_max_size == 6
    assert by_name["pool-smaller-than-declared"].stack(P, stack_config(P, "recommended")).service.pool_max_size == 2
    assert by_name["framework-default-pool-timeout"].stack(
        P, stack_config(P, "gthread")).service.pool_timeout_s == 15.0


# -- synthetic measurements ---------------------------------------------------------------------------


def recommended_run(*, capacity_factor: float = 1.0, peak: int = 8, booted_only: bool = False, cpu: float = 10.0,
                    readings: bool = True) -> Run:
    """Closed-loop steps at min(users ÷ hold, capacity × factor), the server's app connections
    growing to ``peak`` (or staying at their boot size)."""
    steps, samples = P.steps(), []
    capacity = P.slots / P.hold_s * capacity_factor
    for index, users in enumerate(steps):
        start = T0 + index * P.step_s
        rate = min(users / P.hold_s, capacity)
        samples += [Sample(start + k / rate, max(P.hold_s, users / capacity) * 1000, 200, "", "", "")
                    for k in range(int(rate * P.step_s))]
    load = LoadResult(LoadPlan(target_url="http://127.0.0.1:1", path="/work",
                               steps=tuple(LoadStep(u, P.step_s) for u in steps)),
                      Samples.of(samples), T0, [cpu] * len(steps))
    pool = []
    for i in range(int(len(steps) * P.step_s / 0.25)):
        conns = P.workers * P.pool_min_size if booted_only else min(peak, steps[int(i * 0.25 // P.step_s)])
        pool.append(PoolReading(T0 + i * 0.25, 0, conns, 0, 0, 0, 0, 0, {"active": conns}))
    return Run("recommended", steps, load, pool if readings else [], 0, [])


def gthread_run(*, timeouts: int = 300, late: int = 0, proxy_504: int = 0, slow_200: int = 0, cpu: float = 10.0,
                timeout_ms: float = 1004.0) -> Run:
    """The exhaustion run: 200s after a hold, pool_timeout 503s at ``timeout_ms`` (and ``late`` ones at
    twice the wait), nginx's 504s at its read timeout, 200s that waited past the pool's wait."""
    hold_ms = P.exhaust_hold_s * 1000
    samples = [Sample(T0 + k * 0.5, hold_ms + 20, 200, "", "", "") for k in range(24)]
    samples += [Sample(T0 + k * 0.03, timeout_ms, 503, "pool", "pool_timeout", "") for k in range(timeouts)]
    samples += [Sample(T0 + k * 0.03, 2000.0, 503, "pool", "pool_timeout", "") for k in range(late)]
    samples += [Sample(T0, P.proxy_read_timeout_s * 1000 + 2, 504, "", "", "") for _ in range(proxy_504)]
    samples += [Sample(T0, hold_ms * 2, 200, "", "", "") for _ in range(slow_200)]
    load = LoadResult(LoadPlan(target_url="http://127.0.0.1:1", path="/work",
                               steps=(LoadStep(P.exhaust_users, P.exhaust_s),)),
                      Samples.of(sorted(samples, key=lambda s: s.start_s)), T0, [cpu])
    return Run("gthread", [P.exhaust_users], load, [], 0, [])


def judged(**runs: Run) -> dict[str, Finding]:
    return {f.key: f for f in judge(P, runs)}


def verdict(key: str, **runs: Run) -> Verdict:
    return judged(**runs)[key].verdict


def test_measurements_that_follow_the_model_hold_every_hypothesis() -> None:
    got = judged(recommended=recommended_run(), gthread=gthread_run())
    assert list(got) == KEYS
    assert {k: (f.verdict, f.detail) for k, f in got.items() if f.verdict is not HELD} == {}
    assert all(f.samples > 0 for f in got.values())


def test_configurations_that_did_not_run_are_inconclusive_never_held() -> None:
    assert {f.verdict for f in judge(P, {})} == {INCONCLUSIVE}


@pytest.mark.parametrize(("run", "expected"), [
    (recommended_run(), HELD),
    (recommended_run(peak=12), FAILED),  # a pool larger than declared: 2 × 6
    (recommended_run(booted_only=True), INCONCLUSIVE),  # the pools never grew: the bound was not tested
    (recommended_run(readings=False), INCONCLUSIVE),
])
def test_server_connections_bounded(run: Run, expected: Verdict) -> None:
    assert verdict("recommended.server-connections-bounded", recommended=run) is expected


@pytest.mark.parametrize(("run", "expected"), [
    (recommended_run(), HELD),
    (recommended_run(capacity_factor=0.5), FAILED),  # half the slots
    (recommended_run(capacity_factor=1.3), FAILED),  # more slots than min(threads, pool)
    (recommended_run(cpu=97.0), INCONCLUSIVE),  # Locust saturated its core
])
def test_capacity_littles_law(run: Run, expected: Verdict) -> None:
    assert verdict("recommended.capacity-littles-law", recommended=run) is expected


@pytest.mark.parametrize(("run", "expected"), [
    (gthread_run(), HELD),
    (gthread_run(proxy_504=8), FAILED),  # the frameworks' default wait: nginx gives up first
    (gthread_run(timeouts=0, slow_200=16), FAILED),  # a long wait under nginx's: a hang, not a 503
    (gthread_run(late=3), FAILED),  # a pool 503 after twice its wait
    (gthread_run(timeout_ms=600.0), FAILED),  # a "pool_timeout" before the pool's wait
    (gthread_run(timeouts=0), INCONCLUSIVE),  # nothing waited past the pool's wait
    (gthread_run(cpu=97.0), INCONCLUSIVE),  # Locust saturated: the 503s' times are not the pool's alone
    (gthread_run(cpu=97.0, late=3), INCONCLUSIVE),
    # Saturated by a storm of nginx's errors: their kind does not depend on Locust's clock.
    (gthread_run(cpu=100.0, proxy_504=8), FAILED),
])
def test_pool_503_on_time(run: Run, expected: Verdict) -> None:
    assert verdict("gthread.pool-503-on-time", gthread=run) is expected


def test_the_503_claim_names_what_the_clients_got() -> None:
    finding = judged(gthread=gthread_run(proxy_504=8))["gthread.pool-503-on-time"]
    assert "proxy 504s: 8" in finding.detail and "300/308" in finding.detail
