"""The pool-exhaustion drill's arithmetic, parameter checks, and judging on synthetic measurements."""

from __future__ import annotations

import pytest

from drills.catalog.pool_exhaustion import Params, Run, judge
from drills.errors import ParameterError
from drills.findings import Verdict
from drills.stack.loadgen import LoadPlan, LoadResult, LoadStep, Sample
from drills.watch import PoolReading

P = Params()


def test_capacity_arithmetic() -> None:
    assert P.slots == 8
    assert P.capacity_rps == pytest.approx(80.0)
    assert P.queue_wait_s(8) == 0 and P.queue_wait_s(4) == 0
    assert P.queue_wait_s(16) == pytest.approx(0.1)
    assert P.queue_wait_s(64) == pytest.approx(0.7)
    assert P.predicted_latency_s(32) == pytest.approx(0.4)
    one = Params(workers=1, pool_max_size=10, pool_min_size=2, hold_s=0.02, oversubscribed_pool_max_size=10)
    assert one.capacity_rps == pytest.approx(500)


@pytest.mark.parametrize(("changes", "name"), [
    ({"pool_max_size": -1}, "pool_max_size"),
    ({"pool_min_size": 5, "pool_max_size": 4}, "pool_max_size"),
    ({"pool_min_size": -2}, "pool_min_size"),
    ({"poolsize": 4}, "poolsize"),
    ({"hold_s": 0}, "hold_s"),
    ({"workers": 4, "pool_max_size": 5}, "pool_max_size"),  # 20 slots > 17 the server allows
    ({"oversubscribed_pool_max_size": 3}, "oversubscribed_pool_max_size"),  # 6 ≤ 7: not oversubscribed
    ({"bounded_users": 16}, "bounded_users"),  # 2 × (4 + 4) = 16 admitted: nothing past the bound
    ({"concurrency_steps": "8,4"}, "concurrency_steps"),
    ({"concurrency_steps": "8,lots"}, "concurrency_steps"),
    ({"configurations": "recommended,chaos"}, "configurations"),
    ({"warmup_s": 5.0}, "warmup_s"),
])
def test_bad_parameters_are_refused_with_their_name(changes: dict, name: str) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({k: str(v) for k, v in changes.items()})
    assert info.value.name == name
    assert "\n" not in str(info.value)


# -- judging on synthetic measurements ----------------------------------------------------------------


def synthetic_run(params: Params, *, capacity_factor: float = 1.0, cpu: float = 10.0,
                  proxy_504: int = 0) -> Run:
    """A load result that follows the queue model (scaled by capacity_factor) in every step."""
    t0, samples = 1000.0, []
    steps = params.steps()
    capacity = params.capacity_rps * capacity_factor
    for index, users in enumerate(steps):
        start = t0 + index * params.step_s
        latency = max(params.hold_s, users / capacity)
        timed_out = latency > params.pool_timeout_s
        rate = min(users / params.hold_s, capacity) if not timed_out else capacity
        n = int(rate * params.step_s)
        for k in range(n):
            begin = start + k / rate
            samples.append(Sample(begin, min(latency, 1.0) * 1000, 200, "", "", ""))
        if timed_out:
            for k in range(int(users / params.pool_timeout_s * params.step_s / 4)):
                samples.append(Sample(start + k * 0.05, params.pool_timeout_s * 1000 + 5, 503, "pool", "pool_timeout", ""))
    for k in range(proxy_504):
        samples.append(Sample(t0 + 1 + k, 5000.0, 504, "", "", ""))
    plan = LoadPlan(target_url="http://127.0.0.1:1", path="/work", steps=tuple(LoadStep(u, params.step_s) for u in steps))
    load = LoadResult(plan, sorted(samples, key=lambda s: s.start_s), t0, [cpu] * len(steps))
    readings = [PoolReading(t0 + i, 0, 8, 0, 0, 0, 0, 0, {"active": 8}) for i in range(10)]
    return Run("recommended", steps, load, readings, 0, [(True, 0.005)] * 3)


def verdicts(runs: dict) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in judge(P, runs)}


def test_measurements_that_follow_the_model_hold() -> None:
    got = verdicts({"recommended": synthetic_run(P)})
    for key in ("recommended.capacity-littles-law", "recommended.latency-grows-with-queue",
                "recommended.pool-503-not-proxy-504", "recommended.server-connections-bounded",
                "recommended.admin-connects-at-peak", "recommended.no-refused-connections"):
        assert got[key] is Verdict.HELD, key
    # Configurations that did not run are inconclusive, never held.
    assert got["oversubscribed.refused-connections"] is Verdict.INCONCLUSIVE
    assert got["bounded.fails-fast"] is Verdict.INCONCLUSIVE


def test_a_lower_plateau_fails_littles_law() -> None:
    got = verdicts({"recommended": synthetic_run(P, capacity_factor=0.6)})
    assert got["recommended.capacity-littles-law"] is Verdict.FAILED


def test_a_proxy_504_fails_the_fast_503_hypothesis() -> None:
    got = verdicts({"recommended": synthetic_run(P, proxy_504=1)})
    assert got["recommended.pool-503-not-proxy-504"] is Verdict.FAILED


def test_a_saturated_generator_makes_load_verdicts_inconclusive() -> None:
    got = verdicts({"recommended": synthetic_run(P, cpu=97.0)})
    assert got["recommended.capacity-littles-law"] is Verdict.INCONCLUSIVE
    assert got["recommended.latency-grows-with-queue"] is Verdict.INCONCLUSIVE


def test_too_many_server_connections_fail_the_budget() -> None:
    run = synthetic_run(P)
    run.readings.append(PoolReading(1005.5, 0, 9, 0, 0, 0, 0, 0, {"active": 9}))
    assert verdicts({"recommended": run})["recommended.server-connections-bounded"] is Verdict.FAILED


def test_a_step_whose_load_sat_on_one_workers_pool_is_left_out_of_the_plateau() -> None:
    """Waiting requests while idle connections sit in the pools (summed over workers) means one worker
    queued while another idled: that step tests where connections landed, not the pools' capacity."""
    run = synthetic_run(P)
    start_32 = 1000.0 + 3 * P.step_s  # the 32-user step; the plateau is 32 and 64 users
    run.readings = [PoolReading(start_32 + P.warmup_s + 0.25 * i, 20, 8, 3, 0, 0, 0, 0, {"active": 5})
                    for i in range(10)]
    findings = {f.key: f for f in judge(P, {"recommended": run})}
    capacity = findings["recommended.capacity-littles-law"]
    assert capacity.verdict is Verdict.HELD and capacity.samples == 1
    assert "left out 32 users" in capacity.detail and "64 users" in capacity.detail
    # Every plateau step uneven: nothing left to judge the capacity on.
    run.readings += [PoolReading(1000.0 + 4 * P.step_s + P.warmup_s + 0.25 * i, 20, 8, 3, 0, 0, 0, 0, {})
                     for i in range(10)]
    assert verdicts({"recommended": run})["recommended.capacity-littles-law"] is Verdict.INCONCLUSIVE


def bounded_run(rejection_ms: list[float]) -> Run:
    t0 = 1000.0
    samples = [Sample(t0 + k * 0.01, ms, 503, "pool", "pool_queue_full", "") for k, ms in enumerate(rejection_ms)]
    plan = LoadPlan(target_url="http://127.0.0.1:1", path="/work", steps=(LoadStep(P.bounded_users, P.step_s),))
    return Run("bounded", [P.bounded_users], LoadResult(plan, samples, t0, [10.0]), [], 0, [])


@pytest.mark.parametrize(("rejection_ms", "verdict"), [
    ([2.0] * 820 + [61.0] * 14, Verdict.HELD),         # hiccups of a busy machine: the p95 is still immediate
    ([2.0] * 700 + [400.0] * 100, Verdict.FAILED),     # one in eight waits: the pool is not failing fast
    ([2.0] * 50, Verdict.INCONCLUSIVE),                # too few rejections to bound a p95 from above (< 72)
    ([], Verdict.INCONCLUSIVE),                        # no rejection at all
])
def test_fails_fast_is_judged_on_the_p95_of_the_rejections(rejection_ms: list[float], verdict: Verdict) -> None:
    (finding,) = [f for f in judge(P, {"bounded": bounded_run(rejection_ms)}) if f.key == "bounded.fails-fast"]
    assert finding.verdict is verdict, finding.detail
