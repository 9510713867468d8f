"""The pool-exhaustion drill's arithmetic, parameter checks, falsifiers, and judging on synthetic
measurements: every hypothesis held, failed and inconclusive, so that each verdict depends on what
was measured and not on the code path."""

from __future__ import annotations

import dataclasses

import pytest

from drills.catalog.pool_exhaustion import FALSIFIERS, SPEC, Params, PeakCensus, Run, SlotCount, judge
from drills.catalog.pool_exhaustion.configurations import stack_config
from drills.errors import ParameterError
from drills.findings import Finding, Verdict
from drills.pipeline.falsify import unfalsified
from drills.stack import StackConfig
from drills.stack.loadgen import LoadPlan, LoadResult, LoadStep, Sample, Samples
from drills.watch import PoolReading

P = Params()
T0 = 1000.0
HELD, FAILED, INCONCLUSIVE = Verdict.HELD, Verdict.FAILED, Verdict.INCONCLUSIVE
KEYS = [
    "recommended.capacity-littles-law", "recommended.latency-grows-with-queue", "recommended.pool-503-not-proxy-504",
    "recommended.server-connections-bounded", "recommended.admin-connects-at-peak",
    "recommended.no-refused-connections", "oversubscribed.refused-connections",
    "oversubscribed.clients-get-pool-timeouts", "oversubscribed.admin-still-connects", "bounded.fails-fast",
    "bounded.admitted-p99",
]


def test_capacity_arithmetic() -> None:
    assert P.slots == 8
    assert P.capacity_rps == pytest.approx(80.0)
    assert P.queue_wait_s(8) == 0 and P.queue_wait_s(4) == 0
    assert P.queue_wait_s(16) == pytest.approx(0.1)
    assert P.queue_wait_s(64) == pytest.approx(0.7)
    assert P.predicted_latency_s(32) == pytest.approx(0.4)
    # Oversubscribed: 20 slots promised, 7 granted; 96 users wait 0.38 s on 20, 1.27 s on 7.
    assert P.granted_slots == 7
    assert P.oversubscribed_wait_s(20) == pytest.approx(0.38)
    assert P.oversubscribed_wait_s(7) == pytest.approx(89 * 0.1 / 7)
    one = Params(workers=1, pool_max_size=10, pool_min_size=2, hold_s=0.02, oversubscribed_pool_max_size=10,
                 configurations="recommended")
    assert one.capacity_rps == pytest.approx(500)


@pytest.mark.parametrize(("changes", "name"), [
    ({"pool_max_size": -1}, "pool_max_size"),
    ({"pool_min_size": 5, "pool_max_size": 4}, "pool_max_size"),
    ({"pool_min_size": 4, "pool_max_size": 4}, "pool_min_size"),  # the bound would be met at boot
    ({"pool_min_size": -2}, "pool_min_size"),
    ({"poolsize": 4}, "poolsize"),
    ({"hold_s": 0}, "hold_s"),
    ({"workers": 4, "pool_max_size": 5}, "pool_max_size"),  # 20 slots > 17 the server allows
    ({"oversubscribed_pool_max_size": 3}, "oversubscribed_pool_max_size"),  # 6 ≤ 7: not oversubscribed
    ({"oversubscribed_users": 32}, "oversubscribed_users"),  # the 7 granted slots serve 32 within the wait
    ({"oversubscribed_users": 400}, "oversubscribed_users"),  # the 20 promised slots could not either
    ({"bounded_users": 16}, "bounded_users"),  # 2 × (4 + 4) = 16 admitted: nothing past the bound
    ({"bounded_pacing_s": 0.8}, "bounded_pacing_s"),  # 64 ÷ 0.8 = 80 req/s: no excess over capacity
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


def test_the_harms_parameters_are_checked_only_where_their_configuration_runs() -> None:
    Params(oversubscribed_users=32, bounded_pacing_s=0.8, configurations="recommended")


# -- synthetic measurements ---------------------------------------------------------------------------


def plan(users: list[int], params: Params = P) -> LoadPlan:
    return LoadPlan(target_url="http://127.0.0.1:1", path="/work",
                    steps=tuple(LoadStep(u, params.step_s) for u in users))


def census(app: int = 8, filler: int = 7, drill: int = 2, *, max_connections: int = 20, reserved: int = 3,
           error: str = "") -> PeakCensus:
    count = SlotCount(T0, app, filler, app + filler + drill)
    return PeakCensus(max_connections, reserved, filler, [count, count], error)


def recommended_run(params: Params = P, *, capacity_factor: float = 1.0, wait_factor: float = 1.0,
                    cpu: float = 10.0, proxy_504: int = 0, timeouts: bool = True, grow: bool = True,
                    peak: int | None = None, readings: bool = True, errors: float = 0.0, refused_in_log: int = 0,
                    probes_ok: bool = True, taken: int = 17) -> Run:
    """A recommended run that follows the queue model (scaled by the factors) in every step: client
    samples, and the pools' and server's readings every 0.25 s."""
    samples, steps = [], params.steps()
    capacity = params.capacity_rps * capacity_factor
    for index, users in enumerate(steps):
        start = T0 + index * params.step_s
        latency = max(params.hold_s, users / capacity)
        timed_out = latency > params.pool_timeout_s
        rate = min(users / params.hold_s, capacity)
        samples += [Sample(start + k / rate, min(latency, 1.0) * 1000, 200, "", "", "")
                    for k in range(int(rate * params.step_s))]
        if timed_out and timeouts:
            samples += [Sample(start + k * 0.05, params.pool_timeout_s * 1000 + 5, 503, "pool", "pool_timeout", "")
                        for k in range(int(users / params.pool_timeout_s * params.step_s / 4))]
    samples += [Sample(T0 + 1 + k, 5000.0, 504, "", "", "") for k in range(proxy_504)]
    load = LoadResult(plan(steps, params), Samples.of(sorted(samples, key=lambda s: s.start_s)), T0,
                      [cpu] * len(steps))
    pool: list[PoolReading] = []
    requests = wait = 0.0
    booted = params.workers * params.pool_min_size
    for i in range(int(len(steps) * params.step_s / 0.25)):
        at = T0 + i * 0.25
        users = steps[int(i * 0.25 // params.step_s)]
        rate = min(users / params.hold_s, capacity)
        requests += rate * 0.25
        wait += rate * 0.25 * params.queue_wait_s(users) * wait_factor
        conns = min(users, params.slots) if grow else booted
        pool.append(PoolReading(at, max(0, users - params.slots), conns, 0, 0, wait, 0, errors, {"active": conns},
                                requests_total=requests))
    if peak is not None:
        pool[len(pool) // 2].server_by_state["active"] = peak
    probes = [(probes_ok, 0.005)] * 3
    return Run("recommended", steps, load, pool if readings else [], refused_in_log, probes,
               census(filler=taken - 10), errors)


def oversubscribed_run(params: Params = P, *, timeout_share: float = 0.4, errors: float = 6.0, app: int = 7,
                       cpu: float = 10.0, probes_ok: bool = True, counted: bool = True,
                       max_connections: int = 10) -> Run:
    start = T0 + params.warmup_s
    n = 400
    samples = [Sample(start + k * 0.008, params.pool_timeout_s * 1000 + 3, 503, "pool", "pool_timeout", "")
               if k < n * timeout_share else Sample(start + k * 0.008, 900.0, 200, "", "", "") for k in range(n)]
    load = LoadResult(plan([params.oversubscribed_users], params), Samples.of(samples), T0, [cpu])
    readings = [PoolReading(T0 + i * 0.25, 40, app, 0, 0, 0, 0, errors if i else 0.0, {}) for i in range(20)]
    peak = census(app, 0, 1, max_connections=max_connections) if counted else PeakCensus(
        max_connections, 3, error="census refused: sorry, too many clients already", refused=3)
    return Run("oversubscribed", [params.oversubscribed_users], load, readings, int(errors), [(probes_ok, 0.005)] * 3,
               peak, errors)


def bounded_run(params: Params = P, *, rejected: int = 800, slow: int = 0, admitted_ms: float = 150.0,
                cpu: float = 10.0, hiccups: int = 0, server_ms: float | None = None) -> Run:
    samples = [Sample(T0 + k * 0.005, 3.0, 503, "pool", "pool_queue_full", "") for k in range(rejected)]
    samples += [Sample(T0 + k * 0.1, 400.0, 503, "pool", "pool_queue_full", "") for k in range(hiccups)]
    samples += [Sample(T0 + k * 0.01, params.pool_timeout_s * 1000 + 3, 503, "pool", "pool_timeout", "")
                for k in range(slow)]
    samples += [Sample(T0 + k * 0.006, admitted_ms, 200, "", "", "", server_ms) for k in range(560)]
    load = LoadResult(plan([params.bounded_users], params), Samples.of(sorted(samples, key=lambda s: s.start_s)), T0,
                      [cpu])
    return Run("bounded", [params.bounded_users], load, [], 0, [])


def judged(**runs: Run) -> dict[str, Finding]:
    return {f.key: f for f in judge(P, runs)}


def verdicts(**runs: Run) -> dict[str, Verdict]:
    return {k: f.verdict for k, f in judged(**runs).items()}


def test_measurements_that_follow_the_model_hold_every_hypothesis() -> None:
    got = judged(recommended=recommended_run(), oversubscribed=oversubscribed_run(), bounded=bounded_run())
    assert list(got) == KEYS
    assert {k: f.verdict for k, f in got.items() if f.verdict is not HELD} == {}
    assert all(f.samples > 0 for f in got.values())


def test_configurations_that_did_not_run_are_inconclusive_never_held() -> None:
    assert set(verdicts().values()) == {INCONCLUSIVE}


# -- recommended --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(capacity_factor=0.6), FAILED),
    (recommended_run(cpu=97.0), INCONCLUSIVE),
])
def test_capacity_littles_law(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.capacity-littles-law"] is verdict


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(wait_factor=1.4), FAILED),
    (recommended_run(wait_factor=0.5), FAILED),
    (recommended_run(readings=False), INCONCLUSIVE),  # no pool readings: nothing to judge the queue on
    (recommended_run(cpu=97.0), INCONCLUSIVE),
])
def test_latency_grows_with_queue_is_judged_on_the_pools_own_wait(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.latency-grows-with-queue"] is verdict


def test_the_queue_is_not_judged_on_client_latency() -> None:
    """Clients that see exactly users ÷ capacity (a closed loop always does) do not make it hold
    when the pools waited otherwise."""
    finding = judged(recommended=recommended_run(wait_factor=2.0))["recommended.latency-grows-with-queue"]
    assert finding.verdict is FAILED and "pool wait 600 ms" in finding.detail and "vs 300 ms" in finding.detail


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(proxy_504=1), FAILED),
    (recommended_run(timeouts=False), INCONCLUSIVE),  # no non-200 answer at all
])
def test_pool_503_not_proxy_504(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.pool-503-not-proxy-504"] is verdict


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(peak=9), FAILED),
    (recommended_run(grow=False), INCONCLUSIVE),  # the pools never grew: the bound was not tested
    (recommended_run(readings=False), INCONCLUSIVE),
])
def test_server_connections_bounded_under_load(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.server-connections-bounded"] is verdict


def test_server_connections_are_judged_only_while_the_load_runs() -> None:
    run = recommended_run()
    run.readings.append(PoolReading(T0 + 31.0, 0, 12, 0, 0, 0, 0, 0, {"idle": 12}))  # after the last step
    assert verdicts(recommended=run)["recommended.server-connections-bounded"] is HELD


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(probes_ok=False), FAILED),  # every ordinary slot taken, and no admin got in
    (recommended_run(taken=16), INCONCLUSIVE),  # an ordinary slot was free: proves nothing of the reserve
])
def test_admin_connects_at_peak_only_counts_with_every_ordinary_slot_taken(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.admin-connects-at-peak"] is verdict


def test_admin_connects_at_peak_without_a_census_is_inconclusive() -> None:
    run = recommended_run()
    run.census = PeakCensus(20, 3, error="census refused: boom")
    assert verdicts(recommended=run)["recommended.admin-connects-at-peak"] is INCONCLUSIVE


@pytest.mark.parametrize(("run", "verdict"), [
    (recommended_run(), HELD),
    (recommended_run(errors=2.0), FAILED),
    (recommended_run(refused_in_log=1), FAILED),
    (recommended_run(readings=False), INCONCLUSIVE),  # the pool sampler collected nothing
])
def test_no_refused_connections(run: Run, verdict: Verdict) -> None:
    assert verdicts(recommended=run)["recommended.no-refused-connections"] is verdict


def test_the_drills_own_refusals_are_not_the_apps() -> None:
    run = recommended_run(probes_ok=False, refused_in_log=3)  # the three refused probes are in the log
    assert verdicts(recommended=run)["recommended.no-refused-connections"] is HELD


def test_a_step_whose_load_sat_on_one_workers_pool_is_left_out_of_the_plateau() -> None:
    """Waiting requests while idle connections sit in the pools (summed over workers) means one worker
    queued while another idled: that step tests where connections landed, not the pools' capacity."""
    run = recommended_run()
    start_32 = T0 + 3 * P.step_s  # the 32-user step; the plateau is 32 and 64 users
    for r in run.readings:
        if start_32 + P.warmup_s <= r.at_s < start_32 + P.step_s:
            r.available = 3
    findings = judged(recommended=run)
    capacity = findings["recommended.capacity-littles-law"]
    assert capacity.verdict is HELD and capacity.samples == 1
    assert "left out 32 users" in capacity.detail and "64 users" in capacity.detail
    for r in run.readings:  # every plateau step uneven: nothing left to judge the capacity on
        if r.at_s >= start_32:
            r.available = 3
    assert verdicts(recommended=run)["recommended.capacity-littles-law"] is INCONCLUSIVE


# -- oversubscribed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("run", "verdict"), [
    (oversubscribed_run(), HELD),
    (oversubscribed_run(errors=0.0, app=20, max_connections=26), FAILED),  # the server fits the pools
    (oversubscribed_run(app=6), INCONCLUSIVE),  # the census found a free ordinary slot: it may have taken it
])
def test_oversubscribed_refused_connections(run: Run, verdict: Verdict) -> None:
    finding = judged(oversubscribed=run)["oversubscribed.refused-connections"]
    assert finding.verdict is verdict
    if verdict is HELD:
        assert "a reserved slot" in finding.detail and "'503 pool_timeout'" in finding.detail


@pytest.mark.parametrize(("run", "verdict"), [
    (oversubscribed_run(), HELD),
    (oversubscribed_run(timeout_share=0.0), FAILED),
    (oversubscribed_run(cpu=97.0), INCONCLUSIVE),
])
def test_oversubscribed_clients_get_pool_timeouts(run: Run, verdict: Verdict) -> None:
    assert verdicts(oversubscribed=run)["oversubscribed.clients-get-pool-timeouts"] is verdict


@pytest.mark.parametrize(("run", "verdict"), [
    (oversubscribed_run(), HELD),
    (oversubscribed_run(probes_ok=False), FAILED),
    # No superuser got in even to count, after the pools had been refused: the slots were full.
    (oversubscribed_run(probes_ok=False, counted=False), FAILED),
    (oversubscribed_run(app=5), INCONCLUSIVE),  # the app did not hold every ordinary slot
    (oversubscribed_run(counted=False, errors=0.0), INCONCLUSIVE),  # nothing shows the slots were full
])
def test_oversubscribed_admin_still_connects(run: Run, verdict: Verdict) -> None:
    assert verdicts(oversubscribed=run)["oversubscribed.admin-still-connects"] is verdict


# -- bounded ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("run", "verdict"), [
    (bounded_run(), HELD),
    (bounded_run(rejected=798, hiccups=2), HELD),  # two scheduling hiccups in 800: the p95 is still immediate
    (bounded_run(rejected=740, hiccups=60), FAILED),  # one in thirteen slow: the p95 is the slow ones'
    (bounded_run(rejected=0), FAILED),  # an unbounded queue: nobody turned away, users wait instead
    (bounded_run(slow=100), FAILED),  # one in eight got a pool-timeout 503 after the whole wait
    (bounded_run(rejected=300), FAILED),  # fewer turned away than the offered excess predicts
    (bounded_run(cpu=97.0), INCONCLUSIVE),
])
def test_bounded_fails_fast(run: Run, verdict: Verdict) -> None:
    finding = judged(bounded=run)["bounded.fails-fast"]
    assert finding.verdict is verdict, finding.detail


def test_bounded_fails_fast_needs_enough_rejections_to_bound_a_p95() -> None:
    """Paced to a small excess (41 turned away predicted), 60 rejections cannot bound a p95 from
    above (that takes 72): inconclusive, not held."""
    slow = Params(bounded_pacing_s=0.55)
    finding = {f.key: f for f in judge(slow, {"bounded": bounded_run(slow, rejected=60)})}["bounded.fails-fast"]
    assert finding.verdict is INCONCLUSIVE and "41 turned away predicted" in finding.detail


@pytest.mark.parametrize(("run", "verdict"), [
    (bounded_run(), HELD),
    (bounded_run(admitted_ms=900.0), FAILED),
    (bounded_run(cpu=97.0), INCONCLUSIVE),
    # Judged on the service's own time when every answer carries it: the client's clock adds the
    # proxy, the event loop's backlog and the generator, which the pool's bound does not govern.
    (bounded_run(admitted_ms=900.0, server_ms=150.0), HELD),
    (bounded_run(admitted_ms=150.0, server_ms=900.0), FAILED),
    (bounded_run(admitted_ms=900.0, server_ms=150.0, cpu=97.0), INCONCLUSIVE),
])
def test_bounded_admitted_p99(run: Run, verdict: Verdict) -> None:
    assert verdicts(bounded=run)["bounded.admitted-p99"] is verdict


def _growing(run: Run, full_from_s: float, slow: int = 20) -> Run:
    """The bounded run with its pools at half their slots until ``full_from_s`` after T0, and
    ``slow`` admitted answers at three holds meanwhile."""
    slots = P.slots
    run.readings.extend(PoolReading(T0 + k * 0.25, 0, slots // 2 if k * 0.25 < full_from_s else slots, 0, 0, 0, 0, 0,
                                    {}) for k in range(40))
    rows = run.load.samples.to_rows() + [Sample(T0 + 0.01 * k, 3 * P.hold_s * 1000, 200, "", "", "", 3 * P.hold_s * 1000)
                                         for k in range(slow)]
    run.load = dataclasses.replace(run.load, samples=Samples.of(sorted(rows, key=lambda s: s.start_s)))
    return run


def test_bounded_admitted_p99_is_judged_once_every_pool_slot_is_open() -> None:
    """Slow answers while the pools grow (fewer connections, each new one a connect) are left out,
    and the detail says how many; without that, twenty of them fail the bound."""
    finding = judged(bounded=_growing(bounded_run(server_ms=150.0), full_from_s=0.5))["bounded.admitted-p99"]
    assert finding.verdict is HELD and "104 answers started before the pools reached 8 connections" in finding.detail
    finding = judged(bounded=_growing(bounded_run(server_ms=150.0), full_from_s=0.0))["bounded.admitted-p99"]
    assert finding.verdict is FAILED, finding.detail


def test_bounded_admitted_p99_is_inconclusive_when_the_pools_never_open_every_slot() -> None:
    finding = judged(bounded=_growing(bounded_run(server_ms=150.0), full_from_s=1e6))["bounded.admitted-p99"]
    assert finding.verdict is INCONCLUSIVE and finding.samples == 0


def test_bounded_admitted_p99_falls_back_to_the_client_when_an_answer_lacks_server_timing() -> None:
    run = bounded_run(admitted_ms=900.0, server_ms=150.0)
    run.load = dataclasses.replace(run.load, samples=Samples.of([*run.load.samples.to_rows(),
                                                                 Sample(T0 + 9, 120.0, 200, "", "", "")]))
    finding = judged(bounded=run)["bounded.admitted-p99"]
    assert finding.verdict is FAILED and "client latency (1 answers without Server-Timing)" in finding.detail


def test_bounded_without_answers_is_inconclusive() -> None:
    run = bounded_run(rejected=0)
    run.load = dataclasses.replace(run.load, samples=Samples.empty())
    got = verdicts(bounded=run)
    assert got["bounded.fails-fast"] is INCONCLUSIVE and got["bounded.admitted-p99"] is INCONCLUSIVE


# -- falsifiers ---------------------------------------------------------------------------------------


def test_the_pool_exhaustion_drill_has_a_falsifier_for_every_hypothesis() -> None:
    assert unfalsified(SPEC.falsifiers, [f.key for f in SPEC.judge(SPEC.params(), {})]) == []
    assert SPEC.falsifiers == FALSIFIERS


def test_each_falsifier_changes_its_slot_the_way_it_says() -> None:
    by_name = {f.name: f for f in FALSIFIERS}

    def stack(name: str) -> StackConfig:
        f = by_name[name]
        return f.stack(P, stack_config(P, f.configuration))

    assert stack("pool-smaller-than-declared").service.pool_max_size == 2
    assert stack("pool-larger-than-declared").service.pool_max_size == 6
    assert stack("proxy-gives-up-first").proxy.read_timeout_s < P.pool_timeout_s
    assert stack("no-superuser-reserve").postgres.settings["superuser_reserved_connections"] == "0"
    over = stack("oversubscribed-in-recommended")
    assert over.postgres.max_connections == P.oversubscribed_max_connections
    assert over.service.pool_max_size == P.oversubscribed_pool_max_size
    fits = stack("server-fits-the-pools")
    assert fits.postgres.max_connections - 3 > P.workers * P.oversubscribed_pool_max_size
    assert fits.service.pool_max_size == P.oversubscribed_pool_max_size
    assert stack("oversubscribed-without-reserve").postgres.settings["superuser_reserved_connections"] == "0"
    assert stack("unbounded-queue").service.pool_max_waiting == 0
    assert stack_config(P, "bounded").service.pool_max_waiting == P.max_waiting
    # Nothing else of the slot's stack changes: the predictions stay those of the parameters.
    base = stack_config(P, "recommended")
    assert dataclasses.replace(stack("pool-smaller-than-declared"), service=base.service) == base


def test_bounded_admitted_p99_needs_enough_admitted_requests_to_bound_it() -> None:
    """300 admitted, all fast: a p99 bounded from above takes 368."""
    run = bounded_run()
    rows = run.load.samples.to_rows()
    run.load = dataclasses.replace(run.load, samples=Samples.of([s for s in rows if s.status != 200] + [
        s for s in rows if s.status == 200][:300]))
    finding = judged(bounded=run)["bounded.admitted-p99"]
    assert finding.verdict is INCONCLUSIVE and finding.samples == 300 and "straddles" in finding.detail


def test_a_bounded_run_too_short_to_bound_the_admitted_p99_is_refused_before_it_runs() -> None:
    with pytest.raises(ParameterError) as err:
        Params(bounded_s=4.0)  # 80 req/s × 4 s = 320 admitted at most
    assert err.value.name == "bounded_s" and "320" in str(err.value) and "≥ 4.6 s" in str(err.value)


def test_the_admitted_bound_counts_a_whole_hold_per_round_of_waiters() -> None:
    """Two waiters behind four connections may each wait one whole hold (all four just taken):
    hold × (1 + ⌈2 ÷ 4⌉) = 200 ms, + 25 % + 50 ms; max_waiting × hold ÷ max_size is only the mean."""
    params = Params(max_waiting=2, bounded_users=64)
    finding = {f.key: f for f in judge(params, {"bounded": bounded_run(params)})}["bounded.admitted-p99"]
    assert finding.expected == "≤ 300 ms"
