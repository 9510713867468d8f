"""Small statistics from raw samples: percentiles, shares and ranges, formatted for verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence


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


def share(hits: int, total: int) -> float | None:
    """``hits`` of ``total`` in percent; None when there is nothing to judge."""
    return 100.0 * hits / total if total else None


def span(values: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    """"lo–hi unit" of ``values`` × ``scale`` (seconds to ms by default); "none" when empty."""
    if not values:
        return "none"
    lo, hi = min(values) * scale, max(values) * scale
    return f"{lo:.0f}–{hi:.0f} {unit}" if round(lo) != round(hi) else f"{lo:.0f} {unit}"
