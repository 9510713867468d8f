"""The load-capacity drill's parameters: the step load, the overload, the service, the measuring."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ...errors import ParameterError
from ...params import require_between, require_choices, split_names
from ...stats import samples_to_bound
from ..pooled import PooledServiceParams

CONFIGURATIONS = ("recommended", "shedding")


@dataclass(frozen=True, kw_only=True)
class Params(PooledServiceParams):
    """Knobs of the load-capacity drill. Seconds unless the name says otherwise; rates in req/s."""

    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("rate_steps",)

    #: Step load: offered rates (requests/s), each held step_s. None at the capacity itself (80 by
    #: default): at ρ = 1 whether a step's p99 meets the SLO depends on the service's overhead that
    #: day (a queue grows at the rate the real capacity falls short), not on the configuration —
    #: a run measured 291 ms against a 300 ms SLO at 80/s where the runs before measured 379–470 ms.
    rate_steps: str = "20,40,60,70,90,110"
    step_s: float = 6.0
    #: Each user starts at most one request per pacing_s: offered rate = users ÷ pacing_s.
    pacing_s: float = 2.0
    #: Two holds (an admitted request may wait one whole hold behind the pool, then holds once)
    #: plus headroom: at 250 ms the admitted p99 measured 230 ms, its interval reaching 263 ms.
    slo_p99_ms: float = 300.0
    #: The knee must lie at or above this share of the pool's Little's-law capacity (and below all
    #: of it): below, something other than the pool limits the service and slots ÷ hold mispredicts.
    knee_min_pct: float = 50.0
    # Overload, with and without shedding.
    overload_rate: float = 160.0
    #: Long enough that the window after the warm-up admits the ≥ 368 requests a p99's interval
    #: needs to be bounded from above (at the default capacity of 80 req/s: ≥ 7.6 s).
    overload_s: float = 12.0
    shed_max_waiting: int = 2
    #: Percentage points by which the share shed under the overload may differ from the excess
    #: over capacity (1 − capacity ÷ overload_rate).
    shed_tolerance_pct: float = 10.0
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    locust_workers: int = 0
    sample_interval_s: float = 0.05
    littles_tolerance_pct: float = 10.0
    flat_tolerance_pct: float = 15.0
    fast_ms: float = 100.0

    def check(self) -> None:
        self.check_service()
        self.check_budget()
        rates = self.rates()
        if rates != sorted(rates) or len(set(rates)) != len(rates):
            raise ParameterError("rate_steps", self.rate_steps, "must be strictly ascending")
        require_between("step_s", self.step_s, 2, 120, "s")
        require_between("pacing_s", self.pacing_s, 0.1, 30, "s")
        if self.step_s < self.pacing_s + 3:
            raise ParameterError("step_s", self.step_s,
                                 f"must be ≥ pacing_s + 3 = {self.pacing_s + 3:g} "
                                 "(warm-up of pacing_s + 1 s, then ≥ 2 s measured)")
        require_between("slo_p99_ms", self.slo_p99_ms, 1, 60_000, "ms")
        require_between("knee_min_pct", self.knee_min_pct, 1, 99, "%")
        require_between("overload_rate", self.overload_rate, 1, 5000, "req/s")
        require_between("overload_s", self.overload_s, 2, 120, "s")
        if self.overload_s < self.pacing_s + 3:
            raise ParameterError("overload_s", self.overload_s, f"must be ≥ pacing_s + 3 = {self.pacing_s + 3:g}")
        require_between("shed_max_waiting", self.shed_max_waiting, 1, 1000)
        admitted, needed = self.admitted_at_most, samples_to_bound(99)
        # Only where shedding runs: on a target it is not judged, and the unshed p99 is bounded from below.
        if admitted < needed and "shedding" in self.selected_configurations() and not self.target_url:
            raise ParameterError("overload_s", self.overload_s,
                                 f"the overload's window (overload_s − warm-up {self.warmup_s:g} s) admits at most "
                                 f"{admitted} requests at the capacity of {self.capacity_rps:.0f} req/s; bounding "
                                 f"their p99 takes ≥ {needed}: raise overload_s to ≥ "
                                 f"{self.warmup_s + needed / min(self.capacity_rps, self.overload_rate):.1f} s")
        require_between("shed_tolerance_pct", self.shed_tolerance_pct, 1, 100, "%")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
        require_between("locust_workers", self.locust_workers, 0, 16)
        require_between("sample_interval_s", self.sample_interval_s, 0.02, 2, "s")
        require_between("littles_tolerance_pct", self.littles_tolerance_pct, 1, 100, "%")
        require_between("flat_tolerance_pct", self.flat_tolerance_pct, 1, 100, "%")
        require_between("fast_ms", self.fast_ms, 1, 10_000, "ms")
        users = max(self.users_for(r) for r in [*rates, self.overload_rate])
        if users > 2000:
            raise ParameterError("pacing_s", self.pacing_s, f"rates × pacing need {users} users; keep it ≤ 2000")
        total = len(rates) * self.step_s + 2 * self.overload_s
        if total > 600:
            raise ParameterError("step_s", self.step_s, f"the plan would send load for {total:g} s; keep it ≤ 600 s")

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    def planned_load(self) -> tuple[float | None, float]:
        """On a target: the step load and the overload, each run with its drain (2 s)."""
        return max([*self.rates(), self.overload_rate]), len(self.rates()) * self.step_s + self.overload_s + 4.0

    def rates(self) -> list[float]:
        try:
            values = [float(v) for v in self.rate_steps.split(",") if v.strip()]
        except ValueError:
            raise ParameterError("rate_steps", self.rate_steps, "must be numbers separated by commas") from None
        if not values or any(not 0.5 <= v <= 5000 for v in values):
            raise ParameterError("rate_steps", self.rate_steps, "each rate must be 0.5–5000 req/s")
        return values

    def saturation_rates(self) -> list[float]:
        """The steps the plateau past capacity is judged on: the last one below capacity, and every
        one at or past it."""
        below = [r for r in self.rates() if r < self.capacity_rps][-1:]
        return below + [r for r in self.rates() if r >= self.capacity_rps]

    @property
    def warmup_s(self) -> float:
        """Skipped at the start of each step: new users start within a second, then pick a phase."""
        return self.pacing_s + 1.0

    @property
    def knee_band(self) -> tuple[float, float]:
        """Where the knee must lie (req/s): from knee_min_pct of the Little's-law capacity up to all of it."""
        return self.capacity_rps * self.knee_min_pct / 100.0, self.capacity_rps

    @property
    def admitted_at_most(self) -> int:
        """Requests the overload's measured window can admit at most: the Little's-law capacity
        (or the offered rate, if lower) × the window after the warm-up."""
        return math.floor(min(self.capacity_rps, self.overload_rate) * (self.overload_s - self.warmup_s))

    @property
    def excess_pct(self) -> float:
        """The share of the overload above capacity (%): what shedding should turn away."""
        return max(0.0, 1.0 - self.capacity_rps / self.overload_rate) * 100.0

    def users_for(self, rate: float) -> int:
        return max(1, round(rate * self.pacing_s))
