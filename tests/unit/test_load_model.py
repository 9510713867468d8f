"""The load-capacity drill's knee finder and Little's-law check on made-up data with known answers."""

from __future__ import annotations

import math

import pytest

from drills.catalog.load_capacity import Params, Step, knee, littles_law_error_pct, resolvable_in_flight
from drills.errors import ParameterError


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
