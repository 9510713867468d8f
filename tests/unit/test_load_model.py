"""The load-capacity drill's knee finder, Little's-law check and judge on made-up data with known answers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from drills.catalog.load_capacity import (
    Measured,
    Params,
    Step,
    judge,
    knee,
    littles_law_error_pct,
    resolvable_in_flight,
    steps_of,
)
from drills.errors import ParameterError
from drills.findings import Finding, Verdict
from drills.stack.loadgen import LoadPlan, LoadResult, LoadStep, Sample
from drills.watch import PoolReading


def step(rate: float, p99_ms: float, *, errors: float = 0.0, throughput: float | None = None,
         mean_ms: float = 100.0, in_flight: float | None = None, service_mean_ms: float | None = None) -> Step:
    served = rate if throughput is None else throughput
    return Step(rate=rate, sent_rps=rate, throughput_ok=served, throughput_all=served, p50_ms=p99_ms / 2,
                p95_ms=p99_ms * 0.9, p99_ms=p99_ms, mean_ms=mean_ms, error_pct=errors,
                service_mean_ms=mean_ms if service_mean_ms is None else service_mean_ms, in_flight_samples=30,
                in_flight=served * mean_ms / 1000 if in_flight is None else in_flight, service_cpu_pct=10,
                locust_cpu_pct=5, samples=100)


def test_knee_is_the_last_step_meeting_the_slo() -> None:
    steps = [step(20, 110), step(40, 150), step(60, 240), step(80, 600), step(100, 1100)]
    assert knee(steps, 250).rate == 60


def test_a_step_that_meets_the_slo_after_one_that_broke_it_is_not_the_knee() -> None:
    steps = [step(20, 110), step(40, 400), step(60, 200)]  # a lucky step past a broken one
    assert knee(steps, 250).rate == 20


def test_errors_above_one_percent_break_the_slo_even_with_a_good_p99() -> None:
    steps = [step(20, 110), step(40, 120, errors=5.0)]
    assert knee(steps, 250).rate == 20


def test_no_knee_when_the_first_step_already_breaks_the_slo() -> None:
    assert knee([step(20, 300), step(40, 500)], 250) is None


def test_empty_steps_do_not_meet_the_slo() -> None:
    empty = step(20, math.nan)
    empty = Step(**{**empty.__dict__, "samples": 0})
    assert knee([empty, step(40, 100)], 250) is None


@pytest.mark.parametrize(("in_flight", "expected_pct"), [(8.0, 0.0), (8.8, 10.0), (7.2, 10.0), (4.0, 50.0)])
def test_littles_law_error_compares_measured_in_flight_with_throughput_times_latency(in_flight, expected_pct) -> None:
    # 80 req/s × 100 ms = 8 in flight.
    assert littles_law_error_pct(step(80, 200, mean_ms=100, in_flight=in_flight)) == pytest.approx(expected_pct)


def test_littles_law_is_judged_at_the_services_boundary() -> None:
    """W is the service's own mean latency: the client's includes the proxy hop L never sees."""
    s = step(60, 120, mean_ms=90.0, service_mean_ms=80.0, in_flight=4.8)
    assert littles_law_error_pct(s) == pytest.approx(0.0)
    assert math.isnan(littles_law_error_pct(step(60, 120, service_mean_ms=float("nan"))))


@pytest.mark.parametrize(("samples", "least"), [(30, 13.333), (25, 16.0), (120, 3.3333), (0, float("inf"))])
def test_only_steps_whose_samples_resolve_the_tolerance_are_judged(samples, least) -> None:
    """2 standard errors of a Poisson-like count's mean fit in 10 % of it from L = 4 ÷ (0.01 n)."""
    assert resolvable_in_flight(samples, 10.0) == pytest.approx(least, rel=1e-3)


def test_littles_law_without_throughput_is_not_a_number() -> None:
    assert math.isnan(littles_law_error_pct(step(0, 100, throughput=0.0)))


def test_capacity_arithmetic_and_users() -> None:
    p = Params()
    assert p.slots == 8 and p.capacity_rps == pytest.approx(80)
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
])
def test_bad_parameters_are_refused_with_their_name(changes: dict, name: str) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping(changes)
    assert info.value.name == name


# -- judge, on synthetic runs -------------------------------------------------------------------------

T0 = 1_700_000_000.0  # epoch seconds: when each synthetic Locust run starts
READING_EVERY_S = 0.01  # the /metrics sampler: 300 in-flight samples per 3 s window resolve L ≥ 1.3
KEYS = ["recommended.littles-law", "recommended.knee-below-capacity", "recommended.flat-past-saturation",
        "shedding.admitted-p99-within-slo", "shedding.excess-fast-503", "no-shedding.p99-breaks-slo"]


@dataclass(frozen=True)
class Shape:
    """One step of a synthetic run: requests sent evenly at ``rate``, ``ok_rps`` of them answered 200
    after ``latency_ms``, the rest 503 (``error``) after ``rejected_ms``."""

    rate: float
    latency_ms: float
    ok_rps: float | None = None
    rejected_ms: float | None = None
    error: str = "pool_timeout"
    #: The service's in-flight gauge, as a multiple of what Little's law predicts.
    in_flight_factor: float = 1.0
    locust_cpu_pct: float = 5.0


def synthetic(name: str, shapes: list[Shape], step_s: float) -> Measured:
    """A Measured as LocustRun and PoolWatch would leave it, for steps shaped like ``shapes``."""
    plan = LoadPlan(target_url="http://127.0.0.1:9", path="/work",
                    steps=tuple(LoadStep(max(1, round(s.rate)), step_s) for s in shapes))
    samples: list[Sample] = []
    readings: list[PoolReading] = []
    latency_sum = latency_count = 0.0
    for index, shape in enumerate(shapes):
        start = T0 + index * step_s
        ok_share = 1.0 if shape.ok_rps is None else shape.ok_rps / shape.rate
        rejected_ms = shape.latency_ms if shape.rejected_ms is None else shape.rejected_ms
        for k in range(round(shape.rate * step_s)):
            ok = int((k + 1) * ok_share) > int(k * ok_share)  # ok_share of them, spread evenly
            samples.append(Sample(start + k / shape.rate, shape.latency_ms if ok else rejected_ms,
                                  200 if ok else 503, "" if ok else "pool", "" if ok else shape.error, ""))
        mean_s = (ok_share * shape.latency_ms + (1 - ok_share) * rejected_ms) / 1000
        for n in range(round(step_s / READING_EVERY_S)):
            latency_count += shape.rate * READING_EVERY_S
            latency_sum += shape.rate * READING_EVERY_S * mean_s
            readings.append(PoolReading(start + n * READING_EVERY_S, 0, 0, 0, 0, 0, 0, 0, {},
                                        in_flight=shape.in_flight_factor * shape.rate * mean_s,
                                        latency_sum_s=latency_sum, latency_count=latency_count))
    samples.sort(key=lambda s: s.start_s)
    load = LoadResult(plan, samples, T0, [s.locust_cpu_pct for s in shapes])
    return Measured(name, [s.rate for s in shapes], load, readings, [(r.at_s, r.in_flight) for r in readings],
                    [30.0] * len(shapes))


def step_load(params: Params, **changes: Shape) -> Measured:
    """Defaults (capacity 80 req/s, SLO 250 ms): p99 within the SLO up to 80 req/s, then served
    throughput flat at 80/s (the excess a 503 after the pool timeout) while latency rises."""
    shapes = {20: Shape(20, 100), 40: Shape(40, 100), 60: Shape(60, 110), 80: Shape(80, 200),
              100: Shape(100, 600, ok_rps=80, rejected_ms=1000), 120: Shape(120, 900, ok_rps=80, rejected_ms=1000)}
    shapes.update({int(k.removeprefix("r")): v for k, v in changes.items()})
    return synthetic("recommended", [shapes[int(r)] for r in params.rates()], params.step_s)


def overload(params: Params, name: str, shape: Shape) -> Measured:
    return synthetic(name, [shape], params.overload_s)


def healthy(params: Params) -> dict[str, Measured]:
    """Every hypothesis holds: the knee at capacity, a flat plateau, fast shedding, an unshed queue."""
    return {
        "recommended": step_load(params),
        "no-shedding": overload(params, "no-shedding", Shape(160, 900, ok_rps=80, rejected_ms=1000)),
        "shedding": overload(params, "shedding", Shape(160, 150, ok_rps=80, rejected_ms=5, error="pool_queue_full")),
    }


def verdicts(findings: list[Finding]) -> dict[str, Verdict]:
    return {f.key: f.verdict for f in findings}


def test_judge_without_any_run_leaves_every_hypothesis_inconclusive() -> None:
    findings = judge(Params(), {})
    assert [f.key for f in findings] == KEYS
    assert all(f.verdict is Verdict.INCONCLUSIVE and f.samples == 0 for f in findings)


def test_judge_holds_every_hypothesis_on_a_run_that_behaves_as_the_paper_says() -> None:
    params = Params()
    findings = judge(params, healthy(params))
    assert [f.key for f in findings] == KEYS
    assert all(f.verdict is Verdict.HELD for f in findings), [(f.key, f.verdict, f.detail) for f in findings]
    by_key = {f.key: f for f in findings}
    assert by_key["recommended.knee-below-capacity"].observed == 80
    assert by_key["recommended.littles-law"].observed == pytest.approx(0.0, abs=1.0)
    assert by_key["shedding.admitted-p99-within-slo"].observed == pytest.approx(150)
    assert by_key["shedding.excess-fast-503"].observed == pytest.approx(100)
    assert by_key["no-shedding.p99-breaks-slo"].observed == pytest.approx(1000)


def test_steps_of_reads_the_synthetic_run_back() -> None:
    params = Params()
    steps = steps_of(step_load(params), params)
    assert [s.rate for s in steps] == params.rates()
    assert [round(s.sent_rps) for s in steps] == [20, 40, 60, 80, 100, 120]
    assert [round(s.throughput_ok) for s in steps] == [20, 40, 60, 80, 80, 80]
    assert steps[0].service_mean_ms == pytest.approx(100) and steps[0].in_flight == pytest.approx(2.0)
    assert knee(steps, params.slo_p99_ms).rate == 80


def test_littles_law_fails_when_the_in_flight_gauge_disagrees_with_throughput_times_latency() -> None:
    params = Params()
    runs = {**healthy(params), "recommended": step_load(params, r60=Shape(60, 110, in_flight_factor=1.5))}
    finding = judge(params, runs)[0]
    assert finding.key == "recommended.littles-law" and finding.verdict is Verdict.FAILED
    assert finding.observed == pytest.approx(50, abs=1)


def test_a_knee_above_capacity_fails() -> None:
    params = Params()
    runs = {**healthy(params), "recommended": step_load(params, r100=Shape(100, 220))}  # 100 req/s within the SLO
    finding = judge(params, runs)[1]
    assert finding.key == "recommended.knee-below-capacity" and finding.verdict is Verdict.FAILED
    assert finding.observed == 100


def test_a_knee_no_step_broke_is_inconclusive() -> None:
    params = Params(rate_steps="20,40,60")
    finding = judge(params, {"recommended": step_load(params)})[1]
    assert finding.verdict is Verdict.INCONCLUSIVE and "no step broke the SLO" in finding.detail


def test_served_throughput_that_keeps_rising_past_capacity_is_not_flat() -> None:
    params = Params()
    runs = {**healthy(params), "recommended": step_load(params, r100=Shape(100, 600), r120=Shape(120, 900))}
    finding = judge(params, runs)[2]
    assert finding.key == "recommended.flat-past-saturation" and finding.verdict is Verdict.FAILED
    assert finding.observed == pytest.approx(40, abs=2)  # (120 − 80) ÷ 100 served


def test_a_plateau_whose_latency_does_not_rise_fails() -> None:
    params = Params()
    runs = {**healthy(params), "recommended": step_load(params, r100=Shape(100, 150, ok_rps=80, rejected_ms=150),
                                                        r120=Shape(120, 120, ok_rps=80, rejected_ms=120))}
    finding = judge(params, runs)[2]
    assert finding.verdict is Verdict.FAILED and finding.detail.startswith("latency did not rise")


def test_a_saturated_generator_makes_the_step_load_inconclusive() -> None:
    params = Params()
    runs = {**healthy(params), "recommended": step_load(params, r120=Shape(120, 900, ok_rps=80, rejected_ms=1000,
                                                                             locust_cpu_pct=95))}
    found = verdicts(judge(params, runs))
    assert [found[k] for k in KEYS[:3]] == [Verdict.INCONCLUSIVE] * 3
    assert [found[k] for k in KEYS[3:]] == [Verdict.HELD] * 3


def test_slow_shedding_and_a_fast_unshed_overload_fail() -> None:
    params = Params()
    runs = {**healthy(params),
            "shedding": overload(params, "shedding", Shape(160, 400, ok_rps=80, rejected_ms=300,
                                                           error="pool_queue_full")),
            "no-shedding": overload(params, "no-shedding", Shape(160, 120))}
    found = verdicts(judge(params, runs))
    assert [found[k] for k in KEYS[3:]] == [Verdict.FAILED] * 3
    assert [found[k] for k in KEYS[:3]] == [Verdict.HELD] * 3


def test_a_saturated_generator_under_overload_makes_the_trio_inconclusive() -> None:
    params = Params()
    runs = {**healthy(params), "no-shedding": overload(params, "no-shedding", Shape(160, 900, locust_cpu_pct=97))}
    found = verdicts(judge(params, runs))
    assert [found[k] for k in KEYS[3:]] == [Verdict.INCONCLUSIVE] * 3
