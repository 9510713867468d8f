"""Small statistics from raw samples: percentiles with their confidence intervals, shares and ranges."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Raw values: a list, or a numpy array (a column of drills.stack.samples.Samples).
Values = Sequence[float] | NDArray[np.float64]


def percentile(values: Values, q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between ranks; NaN when empty.

    Computed from every raw value: Locust's own percentiles come from a bucketed histogram
    (../shared/FACTS.md §9) and are only good to about two significant digits.
    """
    if len(values) == 0:
        return math.nan
    return _of_sorted(np.sort(np.asarray(values, dtype=np.float64)), q)


def _of_sorted(ordered: NDArray[np.float64], q: float) -> float:
    # In Python floats, as before the arrays: the same interpolation to the last bit (numpy's own
    # percentile rounds differently), so that no verdict moves with the representation.
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    at_low, at_high = float(ordered[low]), float(ordered[high])
    return at_low + (at_high - at_low) * (rank - low)


#: The confidence of every percentile interval the drills judge on.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PercentileInterval:
    """A percentile from raw samples with a distribution-free confidence interval.

    The interval comes from order statistics: the number of samples below the true q-th percentile
    is Binomial(n, q), so the order statistics of ranks ``l`` and ``u`` bracket it with probability
    ≥ ``confidence`` whatever the distribution. When ``n`` is too small to reach past the percentile
    on one side, that end is infinite: a p99 bounded from above needs at least 368 samples at 95 %
    (0.99ⁿ ≤ 0.025), and then the bound is the largest sample.
    """

    q: float
    estimate: float
    low: float
    high: float
    samples: int
    confidence: float = CONFIDENCE

    def __str__(self) -> str:
        def edge(value: float) -> str:
            return "∞" if math.isinf(value) else f"{value:.0f}"

        return (f"p{self.q:g} {self.estimate:.0f} ({self.confidence:.0%} interval {edge(self.low)}–{edge(self.high)}, "
                f"n={self.samples})")

    def cell(self) -> str:
        """"201 (180–∞)": the estimate and its interval, for a table."""
        def edge(value: float) -> str:
            return "∞" if math.isinf(value) else f"{value:.0f}"

        return f"{self.estimate:.0f} ({edge(self.low)}–{edge(self.high)})"


def interval_cell(values: Values, q: float) -> str:
    """A table cell for the ``q``-th percentile of ``values`` with its interval; "–" when empty."""
    interval = percentile_interval(values, q)
    return interval.cell() if interval else "–"


def percentile_interval(values: Values, q: float, confidence: float = CONFIDENCE) -> PercentileInterval | None:
    """The ``q``-th percentile (0–100) of ``values`` with its distribution-free interval; None when empty."""
    if len(values) == 0:
        return None
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n, p = len(ordered), q / 100.0
    lower, upper = _binomial_ranks(n, p, (1.0 - confidence) / 2.0)
    return PercentileInterval(q, _of_sorted(ordered, q),
                              float(ordered[lower - 1]) if lower >= 1 else -math.inf,
                              float(ordered[upper - 1]) if upper <= n else math.inf, n, confidence)


@functools.lru_cache(maxsize=256)  # a drill asks for the same n and q in its judging, tables and charts
def _binomial_ranks(n: int, p: float, alpha: float) -> tuple[int, int]:
    """The 1-based ranks of the order statistics that bracket the percentile: the highest ``l`` with
    P(B ≤ l − 1) ≤ alpha (0: none) and the lowest ``u`` with P(B ≤ u − 1) ≥ 1 − alpha (n + 1: none),
    B ~ Binomial(n, p). The CDF only grows, so each rank is a count of CDF values on one side."""
    first, cdf = _binomial_cdf(n, p)
    final = cdf[-1]
    # P(B ≤ k) is 0 below the window and ``final`` above it; only k ≤ n − 1 are candidates.
    inside = cdf[: max(0, n - first)]
    above = max(0, n - first - len(inside))
    lower = first + sum(1 for c in inside if c <= alpha) + (above if final <= alpha else 0)
    upper = first + sum(1 for c in inside if c < 1.0 - alpha) + (above if final < 1.0 - alpha else 0) + 1
    return lower, upper


def samples_to_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """The fewest samples whose ``q``-th percentile interval has a finite upper end: the largest of
    n samples lies above the percentile with probability 1 − (q/100)ⁿ, which must reach the upper
    tail's confidence (368 for a p99 at 95 %)."""
    p, alpha = q / 100.0, (1.0 - confidence) / 2.0
    if p <= 0.0:
        return 1
    return math.ceil(math.log(alpha) / math.log(p) - 1e-9)


#: Below this log-probability a binomial term is exactly 0.0 in floating point (exp underflows
#: at about −745): terms past it, on either side of the mode, add nothing to the CDF.
_NEGLIGIBLE_LOG = -800.0


def _binomial_cdf(n: int, p: float) -> tuple[int, list[float]]:
    """P(B ≤ k), B ~ Binomial(n, p), for k = first … first + len − 1: ``(first, values)``; below
    ``first`` the CDF is 0.0 and above the window it stays at the last value.

    Summed in log space in the same order and arithmetic as over every k from 0, so the values are
    those of the full sum to the last bit — but only over the window around the mode where a term
    does not underflow to 0.0 (about ±40 standard deviations): for a million samples a few thousand
    terms, not a million.
    """
    if p <= 0.0:
        return 0, [1.0] * (n + 1)
    if p >= 1.0:
        return 0, [0.0] * n + [1.0]
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)

    def log_pmf(k: int) -> float:
        return log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q

    mode = min(n, max(0, math.floor((n + 1) * p)))
    first = mode
    while first > 0 and log_pmf(first - 1) > _NEGLIGIBLE_LOG:  # the terms fall away from the mode
        first -= 1
    last = mode
    while last < n and log_pmf(last + 1) > _NEGLIGIBLE_LOG:
        last += 1
    out, total = [], 0.0
    for k in range(first, last + 1):
        total += math.exp(log_pmf(k))
        out.append(min(total, 1.0))
    return first, out


def share(hits: int, total: int) -> float | None:
    """``hits`` of ``total`` in percent; None when there is nothing to judge."""
    return 100.0 * hits / total if total else None


def span(values: Values, scale: float = 1000.0, unit: str = "ms") -> str:
    """"lo–hi unit" of ``values`` × ``scale`` (seconds to ms by default); "none" when empty."""
    if len(values) == 0:
        return "none"
    lo, hi = float(np.min(values)) * scale, float(np.max(values)) * scale
    return f"{lo:.0f}–{hi:.0f} {unit}" if round(lo) != round(hi) else f"{lo:.0f} {unit}"
