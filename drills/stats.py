"""Small statistics from raw samples: percentiles with their confidence intervals, shares and ranges."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between ranks; NaN when empty.

    Computed from every raw value: Locust's own percentiles come from a bucketed histogram
    (../shared/FACTS.md §9) and are only good to about two significant digits.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


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


def interval_cell(values: Sequence[float], q: float) -> str:
    """A table cell for the ``q``-th percentile of ``values`` with its interval; "–" when empty."""
    interval = percentile_interval(values, q)
    return interval.cell() if interval else "–"


def percentile_interval(values: Sequence[float], q: float, confidence: float = CONFIDENCE) -> PercentileInterval | None:
    """The ``q``-th percentile (0–100) of ``values`` with its distribution-free interval; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    n, p = len(ordered), q / 100.0
    cdf = _binomial_cdf(n, p)
    alpha = (1.0 - confidence) / 2.0
    # Ranks are 1-based: x_(k) lies below the percentile with probability P(B ≥ k) = 1 − cdf[k − 1].
    lower = max((k for k in range(1, n + 1) if cdf[k - 1] <= alpha), default=0)
    upper = min((k for k in range(1, n + 1) if cdf[k - 1] >= 1.0 - alpha), default=n + 1)
    return PercentileInterval(q, percentile(ordered, q),
                              ordered[lower - 1] if lower >= 1 else -math.inf,
                              ordered[upper - 1] if upper <= n else math.inf, n, confidence)


def samples_to_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """The fewest samples whose ``q``-th percentile interval has a finite upper end: the largest of
    n samples lies above the percentile with probability 1 − (q/100)ⁿ, which must reach the upper
    tail's confidence (368 for a p99 at 95 %)."""
    p, alpha = q / 100.0, (1.0 - confidence) / 2.0
    if p <= 0.0:
        return 1
    return math.ceil(math.log(alpha) / math.log(p) - 1e-9)


def _binomial_cdf(n: int, p: float) -> list[float]:
    """P(B ≤ k) for k = 0 … n, B ~ Binomial(n, p), summed in log space (n up to millions)."""
    if p <= 0.0:
        return [1.0] * (n + 1)
    if p >= 1.0:
        return [0.0] * n + [1.0]
    log_p, log_q = math.log(p), math.log1p(-p)
    out, total = [], 0.0
    for k in range(n + 1):
        log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        total += math.exp(log_pmf)
        out.append(min(total, 1.0))
    return out


def share(hits: int, total: int) -> float | None:
    """``hits`` of ``total`` in percent; None when there is nothing to judge."""
    return 100.0 * hits / total if total else None


def span(values: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    """"lo–hi unit" of ``values`` × ``scale`` (seconds to ms by default); "none" when empty."""
    if not values:
        return "none"
    lo, hi = min(values) * scale, max(values) * scale
    return f"{lo:.0f}–{hi:.0f} {unit}" if round(lo) != round(hi) else f"{lo:.0f} {unit}"
