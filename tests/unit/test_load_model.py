"""The load-capacity drill's knee finder, Little's-law check and judge on made-up data with known answers:
every hypothesis held, failed and inconclusive, and a falsifier for each."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest

from drills.catalog.load_capacity import (
    FALSIFIERS,
    SPEC,
    Measured,
    Params,
    Step,
    judge,
    knee,
    littles_law_error_pct,
    littles_law_se_pct,
    locate_knee,
    resolves,
    steps_of,
)
from drills.catalog.load_capacity.configurations import stack_config
from drills.errors import ParameterError
from drills.findings import Finding, Verdict
from drills.pipeline.falsify import unfalsified
from drills.stack.loadgen import LoadPlan, LoadResult, LoadStep, Sample, Samples
from drills.watch import PoolReading


def step(rate: float, p99_ms: float, *, errors: float = 0.0, throughput: float | None = None,
         mean_ms: float = 100.0, in_flight: float | None = None, client_in_flight: float | None = None) -> Step:
    served = rate if throughput is None else throughput
    return Step(rate=rate, sent_rps=rate, throughput_ok=served, throughput_all=served, p50_ms=p99_ms / 2,
                p95_ms=p99_ms * 0.9, p99_ms=p99_ms, mean_ms=mean_ms, error_pct=errors,
                in_flight=served * mean_ms / 1000 if in_flight is None else in_flight,
                client_in_flight=served * mean_ms / 1000 if client_in_flight is None else client_in_flight,
                littles_se_pct=1.0, service_mean_ms=mean_ms, in_flight_samples=60, service_cpu_pct=10,
                locust_cpu_pct=5, samples=100)


# -- the knee ---------------------------------------------------------------------------------------


def test_the_last_step_meeting_the_slo_brackets_the_knee() -> None:
    steps = [step(20, 110), step(40, 150), step(60, 240), step(80, 600), step(100, 1100)]
    assert knee(steps, 250).rate == 60


def test_the_knee_is_interpolated_where_p99_crosses_the_slo() -> None:
    # 60 → 150 ms, 80 → 350 ms: 250 ms is crossed half-way.
    k = locate_knee([step(20, 110), step(60, 150), step(80, 350), step(100, 900)], 250)
    assert k is not None and k.rate == pytest.approx(70) and k.low.rate == 60 and k.high.rate == 80


def test_two_runs_either_side_of_a_step_find_nearly_the_same_knee() -> None:
    """The p99 at 60 req/s lands at 216 ms in one run and 254 ms in the next (both measured): the
    step-wise knee flips from 60 to 40 req/s; the interpolated one moves by 3."""
    one = locate_knee([step(20, 116), step(40, 153), step(60, 216), step(80, 484)], 250)
    other = locate_knee([step(20, 118), step(40, 134), step(60, 254), step(80, 396)], 250)
    assert one.low.rate == 60 and other.low.rate == 40
    assert one.rate == pytest.approx(62.5, abs=0.1) and other.rate == pytest.approx(59.3, abs=0.1)


def test_errors_crossing_one_percent_locate_the_knee_too() -> None:
    k = locate_knee([step(20, 110), step(40, 120, errors=5.0)], 250)  # 0 → 5 %: 1 % a fifth of the way
    assert knee([step(20, 110), step(40, 120, errors=5.0)], 250).rate == 20
    assert k.rate == pytest.approx(24)


def test_a_step_that_meets_the_slo_after_one_that_broke_it_is_not_the_knee() -> None:
    steps = [step(20, 110), step(40, 400), step(60, 200)]  # a lucky step past a broken one
    assert knee(steps, 250).rate == 20 and locate_knee(steps, 250).high.rate == 40


def test_a_knee_below_the_first_step_or_past_the_last_is_a_bound() -> None:
    below = locate_knee([step(20, 300), step(40, 500)], 250)
    assert knee([step(20, 300), step(40, 500)], 250) is None
    assert below.low is None and below.rate == 20 and below.describe().startswith("below")
    above = locate_knee([step(20, 100), step(40, 110)], 250)
    assert above.high is None and above.rate == 40 and above.describe().startswith("at least")
    assert locate_knee([], 250) is None


def test_empty_steps_do_not_meet_the_slo() -> None:
    empty = replace(step(20, math.nan), samples=0)
    assert knee([empty, step(40, 100)], 250) is None


# -- Little's law -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("in_flight", "expected_pct"), [(8.0, 0.0), (8.8, 10.0), (7.2, 10.0), (4.0, 50.0)])
def test_littles_law_compares_the_services_gauge_with_the_clients_lambda_w(in_flight, expected_pct) -> None:
    # 80 req/s × 100 ms = 8 in flight, as the client timed it.
    assert littles_law_error_pct(step(80, 200, mean_ms=100, in_flight=in_flight)) == pytest.approx(expected_pct)


def test_littles_law_takes_w_from_the_client_not_from_the_services_own_timer() -> None:
    """The gauge and the service's timer sit in one middleware: L = λW between them holds by
    construction. A proxy that answers 504 after 50 ms while the service holds 100 ms shows only
    against the client's clock."""
    s = step(60, 120, in_flight=6.0, client_in_flight=3.0)  # the service held twice what the client saw
    assert littles_law_error_pct(s) == pytest.approx(100.0)
    assert math.isnan(littles_law_error_pct(step(0, 100, throughput=0.0)))


@pytest.mark.parametrize(("inside_s", "interval_s", "expected_pct"), [
    ([0.1] * 60, 0.05, 100 * math.sqrt(60 * 0.05 ** 2 / 6) / 6.0),  # each time counted in whole 50 ms ticks
    ([0.02] * 100, 0.05, 100 * math.sqrt(100 * 0.02 * 0.03) / 2.0),  # shorter than a tick: seen or not
    ([], 0.05, math.inf), ([0.1], math.inf, math.inf),
])
def test_the_standard_error_comes_from_sampling_the_gauge(inside_s, interval_s, expected_pct) -> None:
    assert littles_law_se_pct(inside_s, interval_s) == pytest.approx(expected_pct)


def test_a_step_is_judged_only_where_its_samples_resolve_the_tolerance() -> None:
    """20 req/s for 3 s at 106 ms: ±5.0 % with the gauge read every 0.1 s (two of them exceed 10 %),
    ±2.5 % every 0.05 s (the local stack measured ±5.3 % and ±2.5 %)."""
    assert littles_law_se_pct([0.106] * 60, 0.1) == pytest.approx(5.0, abs=0.1)
    assert littles_law_se_pct([0.106] * 60, 0.05) == pytest.approx(2.5, abs=0.1)
    assert not resolves(replace(step(20, 100), littles_se_pct=5.3), 10.0)
    assert resolves(replace(step(20, 100), littles_se_pct=2.6), 10.0)
    assert not resolves(replace(step(20, 100), littles_se_pct=1.0, samples=0), 10.0)


# -- parameters -------------------------------------------------------------------------------------


def test_capacity_arithmetic_and_users() -> None:
    p = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    assert p.slots == 8 and p.capacity_rps == pytest.approx(80)
    assert p.knee_band == pytest.approx((40, 80)) and p.excess_pct == pytest.approx(50)
    assert p.users_for(60) == 120  # 60 req/s × 2 s pacing
    assert p.warmup_s == pytest.approx(3.0)


@pytest.mark.parametrize(("changes", "name"), [
    ({"rate_steps": "40,20"}, "rate_steps"),
    ({"rate_steps": "20,x"}, "rate_steps"),
    ({"step_s": 3}, "step_s"),  # < pacing_s + 3
    ({"pacing_s": 20, "step_s": 30, "overload_s": 30}, "pacing_s"),  # 160 req/s × 20 s = 3200 users
    ({"workers": 5}, "pool_max_size"),  # 20 slots > 17
    ({"configurations": "shedding,storm"}, "configurations"),
    ({"locust_workers": -1}, "locust_workers"),
    ({"knee_min_pct": 100}, "knee_min_pct"),
    ({"shed_tolerance_pct": 0}, "shed_tolerance_pct"),
])
def test_bad_parameters_are_refused_with_their_name(changes: dict, name: str) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping(changes)
    assert info.value.name == name


# -- judge, on synthetic runs -------------------------------------------------------------------------

T0 = 1_700_000_000.0  # epoch seconds: when each synthetic Locust run starts
READING_EVERY_S = 0.01  # the /metrics sampler
#: The SLO the synthetic steps below were shaped around (the default is 300 ms).
SLO_MS = 250.0
KEYS = ["recommended.littles-law", "recommended.knee-below-capacity", "recommended.flat-past-saturation",
        "shedding.admitted-p99-within-slo", "shedding.sheds-only-the-excess", "shedding.excess-fast-503",
        "no-shedding.p99-breaks-slo"]


@dataclass(frozen=True)
class Shape:
    """One step of a synthetic run: requests sent evenly at ``rate``, ``ok_rps`` of them answered 200
    after ``latency_ms``, the rest ``status`` (503: ``error``) after ``rejected_ms``."""

    rate: float
    latency_ms: float
    ok_rps: float | None = None
    rejected_ms: float | None = None
    error: str = "pool_timeout"
    status: int = 503
    #: The service's in-flight gauge, as a multiple of what the client's timing gives.
    in_flight_factor: float = 1.0
    locust_cpu_pct: float = 5.0
    #: Share of the offered rate the generator sent.
    sent_share: float = 1.0
    reading_every_s: float = READING_EVERY_S
    #: ms of each 200's latency outside the service (proxy hop, generator), shown by its
    #: Server-Timing; None: answers carry no Server-Timing and the gauge sees the whole latency.
    transport_ms: float | None = None


def synthetic(name: str, shapes: list[Shape], step_s: float, warnings: tuple[str, ...] = ()) -> Measured:
    """A Measured as LocustRun and PoolWatch would leave it, for steps shaped like ``shapes``."""
    plan = LoadPlan(target_url="http://127.0.0.1:9", path="/work",
                    steps=tuple(LoadStep(max(1, round(s.rate)), step_s) for s in shapes))
    samples: list[Sample] = []
    readings: list[PoolReading] = []
    latency_sum = latency_count = 0.0
    for index, shape in enumerate(shapes):
        start = T0 + index * step_s
        rate = shape.rate * shape.sent_share
        ok_share = 1.0 if shape.ok_rps is None else shape.ok_rps / shape.rate
        rejected_ms = shape.latency_ms if shape.rejected_ms is None else shape.rejected_ms
        for k in range(round(rate * step_s)):
            ok = int((k + 1) * ok_share) > int(k * ok_share)  # ok_share of them, spread evenly
            server_ms = shape.latency_ms - shape.transport_ms if ok and shape.transport_ms is not None else None
            samples.append(Sample(start + k / rate, shape.latency_ms if ok else rejected_ms,
                                  200 if ok else shape.status, "" if ok else "pool", "" if ok else shape.error,
                                  "" if ok or shape.status else "ConnectionResetError", server_ms))
        held_ms = shape.latency_ms - (shape.transport_ms or 0.0)
        mean_s = (ok_share * held_ms + (1 - ok_share) * rejected_ms) / 1000
        for n in range(round(step_s / shape.reading_every_s)):
            latency_count += rate * shape.reading_every_s
            latency_sum += rate * shape.reading_every_s * mean_s
            readings.append(PoolReading(start + n * shape.reading_every_s, 0, 0, 0, 0, 0, 0, 0, {},
                                        in_flight=shape.in_flight_factor * rate * mean_s,
                                        latency_sum_s=latency_sum, latency_count=latency_count))
    samples.sort(key=lambda s: s.start_s)
    load = LoadResult(plan, Samples.of(samples), T0, [s.locust_cpu_pct for s in shapes], list(warnings))
    return Measured(name, [s.rate for s in shapes], load, readings, [(r.at_s, r.in_flight) for r in readings],
                    [30.0] * len(shapes))


#: Defaults (capacity 80 req/s, SLO 250 ms), as the local stack measures them: p99 within the SLO up
#: to 60 req/s, broken at capacity; past it served throughput flat at 77/s (the excess a 503 after
#: the pool's 1 s timeout) while latency rises.
STEPS = {20: Shape(20, 105), 40: Shape(40, 110), 60: Shape(60, 150), 80: Shape(80, 400),
         100: Shape(100, 950, ok_rps=77, rejected_ms=1100), 120: Shape(120, 1000, ok_rps=77, rejected_ms=1100)}


#: The synthetic runs' steps: one at capacity, where these shapes say what the paper says happens
#: there (the drill's own defaults leave capacity out: see Params.rate_steps).
STEP_RATES = "20,40,60,80,100,120"


def step_load(params: Params, warnings: tuple[str, ...] = (), **changes: Shape) -> Measured:
    shapes = {**STEPS, **{int(k.removeprefix("r")): v for k, v in changes.items()}}
    return synthetic("recommended", [shapes[int(r)] for r in params.rates()], params.step_s, warnings)


def overload(params: Params, name: str, shape: Shape, warnings: tuple[str, ...] = ()) -> Measured:
    return synthetic(name, [shape], params.overload_s, warnings)


SHED = Shape(160, 180, ok_rps=76, rejected_ms=5, error="pool_queue_full")  # 52.5 % shed in 5 ms
UNSHED = Shape(160, 1000, ok_rps=77, rejected_ms=1100)


def healthy(params: Params, **runs: Measured) -> dict[str, Measured]:
    """Every hypothesis holds: the knee in its band, a flat plateau, fast shedding of the excess, an
    unshed queue; ``runs`` replaces some."""
    return {"recommended": step_load(params), "no-shedding": overload(params, "no-shedding", UNSHED),
            "shedding": overload(params, "shedding", SHED), **runs}


def found(params: Params, runs: dict[str, Measured], key: str) -> Finding:
    (finding,) = [f for f in judge(params, runs) if f.key == key]
    return finding


def verdicts(findings: list[Finding]) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in findings}


def test_judge_without_any_run_leaves_every_hypothesis_inconclusive() -> None:
    findings = judge(Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS), {})
    assert [f.key for f in findings] == KEYS
    assert all(f.verdict is Verdict.INCONCLUSIVE and f.samples == 0 for f in findings)


def test_judge_holds_every_hypothesis_on_a_run_that_behaves_as_the_paper_says() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    findings = judge(params, healthy(params))
    assert [f.key for f in findings] == KEYS
    assert all(f.verdict is Verdict.HELD for f in findings), [(f.key, f.verdict, f.detail) for f in findings]
    by_key = {f.key: f for f in findings}
    assert by_key["recommended.knee-below-capacity"].observed == pytest.approx(60 + 20 * 100 / 250)
    assert by_key["recommended.littles-law"].observed == pytest.approx(0.0, abs=1.0)
    assert by_key["recommended.littles-law"].samples == 6, "every step judged, below the knee too"
    assert by_key["recommended.flat-past-saturation"].observed == pytest.approx(3 / 78 * 100, abs=0.5)
    assert by_key["shedding.admitted-p99-within-slo"].observed == pytest.approx(180)
    assert by_key["shedding.sheds-only-the-excess"].observed == pytest.approx(52.5, abs=0.5)
    assert by_key["shedding.excess-fast-503"].observed == pytest.approx(100)
    assert by_key["no-shedding.p99-breaks-slo"].observed == pytest.approx(1100)


def test_steps_of_reads_the_synthetic_run_back() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    steps = steps_of(step_load(params), params)
    assert [s.rate for s in steps] == params.rates()
    assert [round(s.sent_rps) for s in steps] == [20, 40, 60, 80, 100, 120]
    assert [round(s.throughput_ok) for s in steps] == [20, 40, 60, 80, 77, 77]
    assert steps[0].in_flight == pytest.approx(2.1) and steps[0].client_in_flight == pytest.approx(2.1, rel=0.02)
    assert steps[0].service_mean_ms == pytest.approx(105)
    assert knee(steps, params.slo_p99_ms).rate == 60


# recommended.littles-law


def test_littles_law_fails_where_the_service_holds_what_the_client_no_longer_waits_for() -> None:
    """nginx's 504 at the SLO while the service goes on: past capacity the gauge sees the full wait."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r100=replace(STEPS[100], in_flight_factor=3.0),
                                                  r120=replace(STEPS[120], in_flight_factor=4.0)))
    finding = found(params, runs, "recommended.littles-law")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(300, abs=5)


def test_littles_law_takes_each_requests_transport_out_of_the_clients_time() -> None:
    """12 ms of every 105 ms outside the service (the proxy hop and a busy generator, shown by the
    Server-Timing each answer carries) is no part of what the service held: the law holds."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r20=replace(STEPS[20], transport_ms=12.0)))
    finding = found(params, runs, "recommended.littles-law")
    assert finding.verdict is Verdict.HELD, finding.detail
    assert "less transport 12.0 ms" in finding.detail
    steps = steps_of(runs["recommended"], params)
    assert steps[0].client_in_flight == pytest.approx(20 * 0.093, rel=0.02)


def test_littles_law_without_server_timing_counts_the_transport_against_the_service() -> None:
    """The same run with answers that carry no Server-Timing: the client's 105 ms against the 93 ms
    the gauge saw, 13 % apart, fails the 10 % tolerance — the gap the transport correction closes."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    shape = replace(STEPS[20], in_flight_factor=93 / 105)
    runs = healthy(params, recommended=step_load(params, r20=shape))
    assert found(params, runs, "recommended.littles-law").verdict is Verdict.FAILED


def test_littles_law_fails_below_the_knee_too() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r20=replace(STEPS[20], in_flight_factor=1.5)))
    finding = found(params, runs, "recommended.littles-law")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(50, abs=2)


def test_littles_law_excludes_unresolved_steps_and_says_so() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    coarse = replace(STEPS[20], reading_every_s=0.5, in_flight_factor=1.5)  # ±18 %: cannot resolve 10 %
    finding = found(params, healthy(params, recommended=step_load(params, r20=coarse)), "recommended.littles-law")
    assert finding.verdict is Verdict.HELD and finding.samples == 5
    assert "excluded, sampling cannot resolve 10 %" in finding.detail and "20/s (± " in finding.detail


def test_littles_law_resting_mostly_on_excluded_steps_is_inconclusive() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    coarse = {f"r{r}": replace(STEPS[r], reading_every_s=1.0) for r in (20, 40, 60, 80)}
    finding = found(params, healthy(params, recommended=step_load(params, **coarse)), "recommended.littles-law")
    assert finding.verdict is Verdict.INCONCLUSIVE and "most steps could not be resolved" in finding.detail


# recommended.knee-below-capacity


def test_a_knee_past_capacity_fails() -> None:
    """The SLO held at 80 and 100 req/s: no headroom was needed, so slots ÷ hold did not predict."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r80=Shape(80, 150), r100=Shape(100, 200)))
    finding = found(params, runs, "recommended.knee-below-capacity")
    assert finding.verdict is Verdict.FAILED and 100 < finding.observed < 102  # 120 req/s broke it


@pytest.mark.parametrize(("p99_at_70", "knee_between"), [(200, (70, 80)), (400, (60, 70))])
def test_the_default_steps_locate_the_knee_inside_its_band_whichever_way_the_step_below_capacity_falls(
        p99_at_70: float, knee_between: tuple[float, float]) -> None:
    """No default step at capacity itself: there a 6 s step met a 300 ms SLO with 291 ms one day and
    missed it with 379–470 ms on others, and a knee interpolated from a step at capacity that met it
    lies just past capacity (80.2 req/s: failed). The steps around capacity decide it now."""
    params = Params(slo_p99_ms=SLO_MS)
    assert params.capacity_rps not in params.rates()
    shapes = {70: Shape(70, p99_at_70), 90: Shape(90, 1000, ok_rps=77, rejected_ms=1100),
              110: Shape(110, 1000, ok_rps=77, rejected_ms=1100)}
    run = synthetic("recommended", [shapes.get(int(r)) or STEPS[int(r)] for r in params.rates()], params.step_s)
    runs = {"recommended": run, "no-shedding": overload(params, "no-shedding", UNSHED),
            "shedding": overload(params, "shedding", SHED)}
    findings = {f.key: f for f in judge(params, runs)}
    knee_found = findings["recommended.knee-below-capacity"]
    assert knee_found.verdict is Verdict.HELD and knee_between[0] < knee_found.observed < knee_between[1]
    assert findings["recommended.flat-past-saturation"].verdict is Verdict.HELD
    assert findings["recommended.littles-law"].verdict is Verdict.HELD


def test_a_knee_no_step_broke_fails_when_it_is_past_capacity_already() -> None:
    params = Params(rate_steps="20,60,100")
    finding = found(params, {"recommended": step_load(params, r100=Shape(100, 200))}, "recommended.knee-below-capacity")
    assert finding.verdict is Verdict.FAILED and finding.observed == 100 and "at least 100" in finding.detail


def test_a_knee_far_below_capacity_fails() -> None:
    """A pool half the predicted size: 40 req/s is already past its capacity."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r40=Shape(40, 400), r60=Shape(60, 1000)))
    finding = found(params, runs, "recommended.knee-below-capacity")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(20 + 20 * 145 / 295)


def test_a_knee_below_a_first_step_under_the_band_fails() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r20=Shape(20, 300)))
    finding = found(params, runs, "recommended.knee-below-capacity")
    assert finding.verdict is Verdict.FAILED and "below the first step" in finding.detail


@pytest.mark.parametrize(("rate_steps", "changes", "why"), [
    ("20,40,60", {}, "no step broke the SLO"),  # knee ≥ 60, band up to 80: not located
    ("60,80,100", {"r60": Shape(60, 300)}, "the first step already broke"),  # knee < 60, band from 40
])
def test_a_knee_the_steps_do_not_locate_is_inconclusive(rate_steps, changes, why) -> None:
    params = Params(rate_steps=rate_steps, slo_p99_ms=SLO_MS)
    finding = found(params, {"recommended": step_load(params, **changes)}, "recommended.knee-below-capacity")
    assert finding.verdict is Verdict.INCONCLUSIVE and why in finding.detail


# recommended.flat-past-saturation


def test_served_throughput_that_keeps_rising_past_capacity_is_not_flat() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r80=Shape(80, 400), r100=Shape(100, 600),
                                                  r120=Shape(120, 900)))
    finding = found(params, runs, "recommended.flat-past-saturation")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(40, abs=1)


@pytest.mark.parametrize("served", [0.0, 20.0])
def test_a_plateau_that_collapses_past_capacity_fails(served) -> None:
    """The proxy gives up before the pool: every request past capacity a 504 (0/s served, where the
    spread is undefined), or a low level that is flat only because little is served."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    gone = {f"r{r}": Shape(r, 900, ok_rps=served, rejected_ms=300, error="", status=504) for r in (80, 100, 120)}
    finding = found(params, healthy(params, recommended=step_load(params, **gone)), "recommended.flat-past-saturation")
    assert finding.verdict is Verdict.FAILED and "collapsed past capacity" in finding.detail, finding.detail


def test_a_plateau_whose_latency_stays_within_the_slo_fails() -> None:
    """Shedding in the recommended stack: flat throughput, but the p99 past capacity keeps the SLO."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    shed = {f"r{r}": Shape(r, 180, ok_rps=77, rejected_ms=5, error="pool_queue_full") for r in (80, 100, 120)}
    finding = found(params, healthy(params, recommended=step_load(params, **shed)), "recommended.flat-past-saturation")
    assert finding.verdict is Verdict.FAILED and finding.detail.startswith("latency did not rise")
    assert finding.observed == pytest.approx(0, abs=2), "throughput itself stayed flat"


def test_a_plateau_no_slower_than_before_capacity_fails() -> None:
    """p99 past the SLO, but the mean as high below capacity already: latency did not rise there."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r60=Shape(60, 1200)))
    finding = found(params, runs, "recommended.flat-past-saturation")
    assert finding.verdict is Verdict.FAILED and "80/s no slower on average than 60/s" in finding.detail


def test_p99s_at_the_pool_timeouts_ceiling_need_not_rise_from_step_to_step() -> None:
    """Past capacity the pool's timeout caps the wait: 703 ms, then 574 ms was noise (measured)."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, recommended=step_load(params, r120=Shape(120, 500, ok_rps=77, rejected_ms=600)))
    assert found(params, runs, "recommended.flat-past-saturation").verdict is Verdict.HELD


def test_a_plateau_of_one_step_is_inconclusive() -> None:
    params = Params(rate_steps="20,40,60,80")
    finding = found(params, {"recommended": step_load(params)}, "recommended.flat-past-saturation")
    assert finding.verdict is Verdict.INCONCLUSIVE and finding.samples == 1


# the generator guard, on the step load


@pytest.mark.parametrize("recommended", [
    {"r120": replace(STEPS[120], locust_cpu_pct=95)},  # a Locust process at its core's limit
    {"r100": replace(STEPS[100], sent_share=0.8)},  # it did not send what was offered
    {"warnings": ("CPU usage above 90%! This may constrain your throughput …",)},  # Locust's own warning
])
def test_a_generator_that_was_the_bottleneck_makes_the_step_load_inconclusive(recommended) -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    found_ = verdicts(judge(params, healthy(params, recommended=step_load(params, **recommended))))
    assert [found_[k] for k in KEYS[:3]] == [Verdict.INCONCLUSIVE] * 3
    assert [found_[k] for k in KEYS[3:]] == [Verdict.HELD] * 4


# the overload: shedding.* and no-shedding.*


def test_an_unbounded_queue_fails_the_admitted_p99_and_the_fast_503s() -> None:
    """max_waiting 0 in the shedding stack: admitted requests wait, the excess times out after 1 s."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    found_ = verdicts(judge(params, healthy(params, shedding=overload(params, "shedding", UNSHED))))
    assert found_["shedding.admitted-p99-within-slo"] is Verdict.FAILED
    assert found_["shedding.excess-fast-503"] is Verdict.FAILED
    assert found_["shedding.sheds-only-the-excess"] is Verdict.HELD, "the share shed was still the excess"


@pytest.mark.parametrize(("status", "rejected_ms"), [(504, 5), (0, 5), (503, 150)])
def test_every_answer_other_than_a_fast_503_counts_against_the_shedding(status, rejected_ms) -> None:
    """A 504, a reset (no status) and a slow 503 are all a place in a queue, or worse."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    shed = overload(params, "shedding", replace(SHED, status=status, rejected_ms=rejected_ms, error=""))
    finding = found(params, healthy(params, shedding=shed), "shedding.excess-fast-503")
    assert finding.verdict is Verdict.FAILED and finding.observed == 0 and finding.samples > 200


@pytest.mark.parametrize(("ok_rps", "observed"), [(40, 75.0), (150, 6.25)])
def test_shedding_more_or_less_than_the_excess_fails(ok_rps, observed) -> None:
    """A pool half the predicted size turns away three quarters; one that serves nearly all of it
    sheds nothing of an excess the parameters predict."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    shed = overload(params, "shedding", replace(SHED, ok_rps=ok_rps))
    finding = found(params, healthy(params, shedding=shed), "shedding.sheds-only-the-excess")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(observed, abs=0.5)


def test_the_excess_is_over_what_the_unshed_stack_served_else_over_slots_per_hold() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    with_unshed = found(params, healthy(params), "shedding.sheds-only-the-excess")
    assert with_unshed.expected == "51.9 ± 10 %" and "capacity 77.0 req/s (as the unshed" in with_unshed.detail
    runs = healthy(params)
    del runs["no-shedding"]
    alone = found(params, runs, "shedding.sheds-only-the-excess")
    assert alone.expected == "50 ± 10 %" and "slots ÷ hold: no unshed overload ran" in alone.detail


def test_shedding_that_turned_nothing_away_has_no_503s_to_judge() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    finding = found(params, healthy(params, shedding=overload(params, "shedding", Shape(160, 120))),
                    "shedding.excess-fast-503")
    assert finding.verdict is Verdict.INCONCLUSIVE and finding.samples == 0


def test_a_fast_unshed_overload_fails() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    finding = found(params, healthy(params, **{"no-shedding": overload(params, "no-shedding", Shape(160, 120))}),
                    "no-shedding.p99-breaks-slo")
    assert finding.verdict is Verdict.FAILED and finding.observed == pytest.approx(120)


@pytest.mark.parametrize(("run", "keys"), [("shedding", KEYS[3:6]), ("no-shedding", KEYS[6:])])
def test_a_missing_overload_leaves_its_hypotheses_inconclusive(run, keys) -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params)
    del runs[run]
    found_ = verdicts(judge(params, runs))
    assert [found_[k] for k in keys] == [Verdict.INCONCLUSIVE] * len(keys)
    assert all(v is Verdict.HELD for k, v in found_.items() if k not in keys)


@pytest.mark.parametrize(("run", "changes", "warnings"), [
    ("shedding", {"locust_cpu_pct": 97}, ()),
    ("shedding", {"sent_share": 0.8}, ()),
    ("no-shedding", {}, ("Worker abc (index 0) exceeded cpu threshold (will only log this once per worker)",)),
])
def test_a_saturated_generator_under_overload_makes_that_runs_hypotheses_inconclusive(run, changes, warnings) -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    base = SHED if run == "shedding" else UNSHED
    found_ = verdicts(judge(params, healthy(params, **{run: overload(params, run, replace(base, **changes),
                                                                          warnings)})))
    # The share shed is compared with what the unshed overload served: its generator counts too.
    keys = KEYS[3:6] if run == "shedding" else [KEYS[4], KEYS[6]]
    assert [found_[k] for k in keys] == [Verdict.INCONCLUSIVE] * len(keys)
    assert all(v is Verdict.HELD for k, v in found_.items() if k not in keys)


def test_a_warning_that_is_not_about_cpu_does_not_stop_the_judging() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    runs = healthy(params, shedding=overload(params, "shedding", SHED,
                                             ("Your selected spawn rate is very high (>100)",)))
    assert all(v is Verdict.HELD for v in verdicts(judge(params, runs)).values())


# -- falsifiers ---------------------------------------------------------------------------------------


def test_every_hypothesis_has_a_falsifier() -> None:
    assert unfalsified(SPEC.falsifiers, KEYS) == []
    assert SPEC.falsifiers == FALSIFIERS
    assert {f.configuration for f in FALSIFIERS} == {"recommended", "shedding"}
    assert len({f.name for f in FALSIFIERS}) == len(FALSIFIERS)


def test_each_falsifier_changes_what_its_harm_says() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    by_name = {f.name: f for f in FALSIFIERS}

    def under(name: str):
        f = by_name[name]
        return f.stack(params, stack_config(params, f.configuration))

    quarter = under("pool-smaller-than-predicted")
    assert quarter.service.pool_max_size == quarter.service.pool_min_size == 1
    assert quarter.service.pool_max_size * params.workers / params.hold_s < params.knee_band[0], (
        "its capacity lies below the knee band, not on its edge")
    larger = under("pool-larger-than-predicted")
    assert larger.service.pool_max_size == larger.service.pool_min_size == 8
    assert larger.postgres.max_connections >= params.workers * 8 + 3, "the server has room for the pool"
    assert under("shedding-switched-on").service.pool_max_waiting == params.shed_max_waiting
    gives_up = under("proxy-gives-up-first")
    assert gives_up.proxy.read_timeout_s == pytest.approx(0.25)
    assert stack_config(params, "recommended").proxy.max_fails > 0 and gives_up.proxy.max_fails == 0, (
        "no ejection: the service sees the requests whose clients nginx answered")
    unbounded = under("unbounded-queue")
    assert unbounded.service.pool_max_waiting == 0 and unbounded.service.pool_timeout_s == params.pool_timeout_s
    shed_smaller = under("shedding-pool-smaller-than-predicted")
    assert shed_smaller.service.pool_max_waiting == params.shed_max_waiting and shed_smaller.service.pool_max_size == 2


def test_too_few_admitted_requests_leave_their_p99_inconclusive_however_fast() -> None:
    """180 admitted in the window, all within the SLO: a p99 bounded from above needs ≥ 368."""
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    shed = overload(params, "shedding", replace(SHED, ok_rps=20))
    finding = found(params, healthy(params, shedding=shed), "shedding.admitted-p99-within-slo")
    assert finding.verdict is Verdict.INCONCLUSIVE and finding.samples == 180
    assert "interval 180–∞" in finding.detail and "straddles" in finding.detail


def test_an_overload_too_short_to_bound_the_admitted_p99_is_refused_before_it_runs() -> None:
    with pytest.raises(ParameterError) as err:
        Params(overload_s=6.0)  # 3 s after the warm-up at 80 req/s: at most 240 admitted
    assert err.value.name == "overload_s" and "at most 240" in str(err.value) and "≥ 7.6 s" in str(err.value)


@pytest.mark.parametrize("seed", range(20))
def test_paced_users_on_schedule_send_the_offered_rate_whatever_their_phases(seed: int) -> None:
    """40 users, one request each per 2 s at a random phase: over the 3 s after the warm-up they
    send 40 + Binomial(40, ½) requests, 53 once in about thirty runs (below 90 % of 60: "the
    generator was the bottleneck"); over the two seconds of whole periods, exactly 40."""
    import random

    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    rng = random.Random(seed)
    measured = step_load(params)
    start, end = measured.load.step_bounds()[0]
    users = round(20 * params.pacing_s)
    phases = [rng.uniform(0, params.pacing_s) for _ in range(users)]
    paced = [Sample(start + phase + k * params.pacing_s, 105.0, 200, "", "", "", None)
             for phase in phases for k in range(int(params.step_s / params.pacing_s) + 1)
             if start + phase + k * params.pacing_s < end]
    later = [s for s in measured.load.samples.to_rows() if s.start_s >= end]
    load = replace(measured.load, samples=Samples.of(sorted(paced + later, key=lambda s: s.start_s)))
    (first, *_) = steps_of(replace(measured, load=load), params)
    assert first.sent_rps == pytest.approx(20.0)
    assert first.generator_busy() is None


def test_a_generator_that_falls_behind_is_still_seen() -> None:
    params = Params(rate_steps=STEP_RATES, slo_p99_ms=SLO_MS)
    (first, *_) = steps_of(step_load(params, r20=Shape(20, 105, sent_share=0.8)), params)
    assert first.sent_rps == pytest.approx(16.0, abs=0.6)
    assert first.generator_busy() == "20 req/s: sent only 16.0/s"
