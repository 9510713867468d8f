"""The retry policy of retries-backoff.md: what is retried, how often, after how long, within what budget."""

from __future__ import annotations

import random

import pytest

from drills.recommended import RECOMMENDED
from drills.retry_policy import RetryBudget, RetryPolicy, backoff_s

REC = RetryPolicy.recommended_caller()
NAIVE = RetryPolicy.naive_caller(attempts=3, backoff_s=0.2)


def test_the_recommended_caller_is_the_papers() -> None:
    r = RECOMMENDED.retry
    assert (REC.attempts, REC.budget_ratio, REC.budget_burst, REC.jitter) == (3, 0.1, 10, "full") == (
        r.attempts, r.budget_ratio, r.budget_burst, r.jitter)
    assert (REC.backoff_base_s, REC.backoff_cap_s) == (1.0, 20.0)
    scaled = RetryPolicy.recommended_caller(scale=0.2)
    assert (scaled.backoff_base_s, scaled.backoff_cap_s) == pytest.approx((0.2, 4.0))


@pytest.mark.parametrize(("kwargs", "retried"), [
    ({"failure": "connect", "method": "POST"}, True),       # never reached the app: any method
    ({"failure": "timeout", "method": "GET"}, False),       # may still run: the recommended caller leaves it
    ({"status": 503, "method": "GET"}, True),
    ({"status": 429, "method": "PUT"}, True),
    ({"status": 502, "method": "POST"}, False),             # a POST may have run
    ({"status": 502, "method": "POST", "keyed": True}, True),
    ({"status": 504, "method": "GET"}, False),              # the work may still run: final
    ({"status": 500, "method": "GET"}, False),
    ({"status": 409, "method": "GET"}, False),
])
def test_what_the_recommended_caller_retries(kwargs: dict, retried: bool) -> None:
    assert (REC.decide(attempt=1, rng=random.Random(1), **kwargs) is not None) is retried


def test_the_naive_caller_retries_everything_and_waits_in_step() -> None:
    for kwargs in ({"failure": "timeout", "method": "POST"}, {"status": 504, "method": "POST"},
                   {"status": 500, "method": "GET"}):
        assert NAIVE.decide(attempt=1, **kwargs) == pytest.approx(0.2)
    assert NAIVE.decide(attempt=2, status=504) == pytest.approx(0.2), "a fixed wait: no jitter, capped"


def test_attempts_count_the_first_one() -> None:
    assert REC.decide(attempt=2, status=503) is not None
    assert REC.decide(attempt=3, status=503) is None
    assert RetryPolicy(attempts=1, backoff_base_s=0, backoff_cap_s=0).decide(attempt=1, failure="connect") is None


def test_full_jitter_draws_below_the_capped_exponential() -> None:
    rng = random.Random(7)
    draws = [backoff_s(3, 1.0, 20.0, "full", rng) for _ in range(2000)]
    assert 0 <= min(draws) < 0.1 and 3.9 < max(draws) <= 4.0
    assert sum(draws) / len(draws) == pytest.approx(2.0, rel=0.05)
    assert backoff_s(3, 1.0, 20.0, "none") == 4.0
    assert backoff_s(9, 1.0, 20.0, "none") == 20.0, "capped"
    with pytest.raises(ValueError, match="retries count from 1"):
        backoff_s(0, 1.0, 20.0, "full")


def test_retry_after_is_the_least_wait_and_one_above_the_cap_is_the_answer() -> None:
    wait = REC.decide(attempt=1, status=503, retry_after_s=2.0, rng=random.Random(3))
    assert wait is not None and 2.0 <= wait <= 3.0
    assert REC.decide(attempt=1, status=503, retry_after_s=21.0) is None


def test_the_budget_caps_retries_at_its_ratio_of_requests() -> None:
    """A dependency that fails every request: after the burst, one retry per ten requests."""
    budget = REC.budget()
    retries = 0
    for _ in range(1000):
        budget.on_request()
        if REC.decide(attempt=1, status=503, budget=budget, rng=random.Random(0)) is not None:
            retries += 1
    # burst + ratio × requests = 110; float sums of 0.1 may leave the last token a hair short of 1.
    assert 109 <= retries <= 110, retries


def test_a_quiet_client_may_spend_its_burst_at_once_and_no_budget_is_unlimited() -> None:
    budget = RetryBudget(0.1, 10)
    assert [budget.try_retry() for _ in range(11)] == [True] * 10 + [False]
    unlimited = RetryBudget(0.0, 0)
    assert all(unlimited.try_retry() for _ in range(100))
    with pytest.raises(ValueError):
        RetryBudget(-0.1, 10)


def test_a_retry_that_is_not_allowed_spends_no_token() -> None:
    budget = RetryBudget(0.1, 1)
    assert REC.decide(attempt=1, status=504, budget=budget) is None
    assert budget.tokens == 1.0


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts=0"):
        RetryPolicy(attempts=0, backoff_base_s=0, backoff_cap_s=0)
    with pytest.raises(ValueError, match="base ≤ cap"):
        RetryPolicy(attempts=3, backoff_base_s=2, backoff_cap_s=1)
