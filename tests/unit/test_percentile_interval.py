"""Percentiles judged on enough data: a distribution-free interval from order statistics, and a
verdict that is held or failed only when the whole interval lies on one side of the bound."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.findings import AtLeast, AtMost, Hypothesis, Verdict, Within
from drills.stats import interval_cell, percentile, percentile_interval, samples_to_bound


def test_a_p99_bounded_from_above_needs_368_samples_at_95_percent() -> None:
    """0.99ⁿ ≤ 0.025 from n = 368: with fewer, no sample is high enough to bound the p99 from above."""
    assert math.isinf(percentile_interval(list(range(367)), 99).high)
    interval = percentile_interval(list(range(368)), 99)
    assert interval.high == 367 and interval.low < interval.estimate <= interval.high


def test_the_interval_narrows_with_more_samples() -> None:
    rng = random.Random(7)
    widths = []
    for n in (400, 4_000, 40_000):
        interval = percentile_interval([rng.expovariate(0.01) for _ in range(n)], 99)
        widths.append(interval.high - interval.low)
    assert widths[0] > widths[1] > widths[2]


def test_nothing_to_judge_is_none() -> None:
    assert percentile_interval([], 99) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=30, max_value=400), st.sampled_from([50, 90, 95, 99]), st.integers(0, 10_000))
def test_the_interval_covers_the_true_percentile_about_as_often_as_it_says(n: int, q: int, seed: int) -> None:
    """Coverage, checked by simulation against a known distribution (uniform: its q-th percentile is q/100)."""
    rng = random.Random(seed)
    hits = trials = 0
    for _ in range(60):
        interval = percentile_interval([rng.random() for _ in range(n)], q)
        if interval is not None:
            trials += 1
            hits += interval.low <= q / 100 <= interval.high
    assert hits / trials >= 0.85  # ≥ 95 % expected; 60 trials leave room for chance, not for a wrong formula


def p99_hypothesis() -> Hypothesis:
    return Hypothesis("recommended.p99", "The p99 stays within the SLO.", AtMost(250, "ms"), True)


def judge_p99(values: list[float]):
    interval = percentile_interval(values, 99)
    return p99_hypothesis().judge_interval(interval.estimate, interval.low, interval.high, interval.samples, str(interval))


def test_held_when_the_whole_interval_is_inside_the_bound() -> None:
    finding = judge_p99([100.0 + i % 100 for i in range(1000)])
    assert finding.verdict is Verdict.HELD and "p99" in finding.detail


def test_failed_when_the_whole_interval_is_past_the_bound() -> None:
    assert judge_p99([300.0 + i % 100 for i in range(1000)]).verdict is Verdict.FAILED


def test_inconclusive_when_too_few_samples_to_bound_it() -> None:
    """180 requests all well inside the SLO still cannot show a p99 is: the interval reaches ∞."""
    finding = judge_p99([100.0] * 180)
    assert finding.verdict is Verdict.INCONCLUSIVE and "too few samples" in finding.detail


def test_but_few_samples_can_already_show_a_p99_is_broken() -> None:
    """A p99 can fail on few samples: 20 of 100 over the SLO puts the whole interval past it."""
    assert judge_p99([100.0] * 80 + [400.0] * 20).verdict is Verdict.FAILED


@pytest.mark.parametrize(("bound", "low", "high", "verdict"), [
    (AtLeast(100, "%"), 100, 120, Verdict.HELD), (AtLeast(100, "%"), 80, 99, Verdict.FAILED),
    (AtLeast(100, "%"), 90, 110, Verdict.INCONCLUSIVE),
    (Within(80, 10, "req/s"), 75, 85, Verdict.HELD), (Within(80, 10, "req/s"), 91, 95, Verdict.FAILED),
    (Within(80, 10, "req/s"), 60, 75, Verdict.INCONCLUSIVE), (Within(80, 10, "req/s"), 60, 100, Verdict.INCONCLUSIVE),
])
def test_every_bound_judges_an_interval(bound, low: float, high: float, verdict: Verdict) -> None:
    h = Hypothesis("c.x", "claim", bound, True)
    assert h.judge_interval((low + high) / 2, low, high, 10).verdict is verdict


def test_no_samples_is_inconclusive_whatever_the_interval() -> None:
    assert p99_hypothesis().judge_interval(100.0, 90.0, 110.0, 0).verdict is Verdict.INCONCLUSIVE


def test_the_estimate_is_the_ordinary_percentile() -> None:
    values = [float(v) for v in range(1, 501)]
    assert percentile_interval(values, 95).estimate == percentile(values, 95)


@pytest.mark.parametrize(("q", "fewest"), [(99, 368), (95, 72), (50, 6)])
def test_samples_to_bound_is_the_fewest_whose_interval_ends_below_infinity(q, fewest) -> None:
    assert samples_to_bound(q) == fewest
    values = [float(v) for v in range(fewest)]
    assert math.isfinite(percentile_interval(values, q).high)
    assert math.isinf(percentile_interval(values[:-1], q).high)


def test_a_table_cell_shows_the_estimate_with_its_interval() -> None:
    assert interval_cell([], 99) == "–"
    assert interval_cell([float(v) for v in range(100)], 99) == "98 (96–∞)"  # 100 samples cannot bound a p99
    assert interval_cell([float(v) for v in range(1000)], 99) == "989 (982–996)"
