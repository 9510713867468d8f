"""Hypotheses, the bounds they are judged against, and the verdicts they get.

A verdict is one of held, failed or inconclusive. Zero samples, or a missing or non-finite
measurement, is inconclusive, never held. A failed hypothesis is a finding, not an exception.
A fourth verdict, not judged, marks a hypothesis the drill could not test on the deployment it
ran against (a staging target it does not own cannot be restarted with other settings): it says
why, and it neither passes nor fails a run.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Verdict(str, enum.Enum):
    HELD = "held"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    NOT_JUDGED = "not judged"


# -- bounds: explicit, each with its limit, tolerance and unit -------------------------------------


@dataclass(frozen=True)
class AtMost:
    limit: float
    unit: str
    tolerance: float = 0.0

    def admits(self, value: float) -> bool:
        return value <= self.limit + self.tolerance

    def admits_any(self, low: float, high: float) -> bool:
        """Whether some value in [low, high] meets the bound."""
        return self.admits(low)

    def __str__(self) -> str:
        tol = f" (+{format_number(self.tolerance)} {self.unit} tolerance)" if self.tolerance else ""
        return f"≤ {format_number(self.limit)} {self.unit}{tol}".replace("  ", " ")


@dataclass(frozen=True)
class AtLeast:
    limit: float
    unit: str
    tolerance: float = 0.0

    def admits(self, value: float) -> bool:
        return value >= self.limit - self.tolerance

    def admits_any(self, low: float, high: float) -> bool:
        """Whether some value in [low, high] meets the bound."""
        return self.admits(high)

    def __str__(self) -> str:
        tol = f" (−{format_number(self.tolerance)} {self.unit} tolerance)" if self.tolerance else ""
        return f"≥ {format_number(self.limit)} {self.unit}{tol}".replace("  ", " ")


@dataclass(frozen=True)
class Within:
    target: float
    tolerance: float
    unit: str

    def admits(self, value: float) -> bool:
        return abs(value - self.target) <= self.tolerance

    def admits_any(self, low: float, high: float) -> bool:
        """Whether some value in [low, high] meets the bound."""
        return low <= self.target + self.tolerance and high >= self.target - self.tolerance

    def __str__(self) -> str:
        return f"{format_number(self.target)} ± {format_number(self.tolerance)} {self.unit}"


Bound = AtMost | AtLeast | Within


@dataclass(frozen=True)
class Hypothesis:
    """A claim the paper makes, and the bound a measurement must meet for it to hold."""

    #: Stable id, used in papers and run history: "<configuration>.<name>".
    key: str
    #: The sentence the paper makes.
    claim: str
    bound: Bound
    #: True when the claim is about the configuration the paper recommends; False for a harm an
    #: anti-pattern causes, or a mechanism the paper describes. Both gate the run alike.
    recommended: bool
    min_samples: int = 1

    @property
    def configuration(self) -> str:
        return self.key.split(".", 1)[0]

    def judge(self, observed: float | None, samples: int, detail: str = "") -> Finding:
        """Judge ``observed`` (measured over ``samples`` samples) against the bound."""
        need = max(1, self.min_samples)  # zero samples never hold, whatever min_samples says
        if samples < need or observed is None or not math.isfinite(observed):
            why = f"{samples} sample(s), need at least {need}"
            if observed is None or (isinstance(observed, float) and not math.isfinite(observed)):
                why += "; no measurement"
            return Finding.of(self, None if observed is None or not math.isfinite(observed) else observed,
                              samples, Verdict.INCONCLUSIVE, f"{why}. {detail}".strip())
        verdict = Verdict.HELD if self.bound.admits(observed) else Verdict.FAILED
        return Finding.of(self, observed, samples, verdict, detail)

    def judge_interval(self, observed: float | None, low: float, high: float, samples: int, detail: str = "") -> Finding:
        """Judge an estimate by its confidence interval ``[low, high]`` (e.g. a percentile's, from
        order statistics): held when the bound admits the whole interval, failed when it admits none
        of it, inconclusive when the interval straddles the bound — too few samples to tell."""
        need = max(1, self.min_samples)
        if samples < need or observed is None or not math.isfinite(observed) or math.isnan(low) or math.isnan(high):
            return self.judge(None, samples, detail)
        if self.bound.admits(low) and self.bound.admits(high):
            return Finding.of(self, observed, samples, Verdict.HELD, detail)
        if not self.bound.admits_any(low, high):
            return Finding.of(self, observed, samples, Verdict.FAILED, detail)
        return Finding.of(self, observed, samples, Verdict.INCONCLUSIVE,
                          f"the interval straddles the bound {self.bound}: too few samples to tell. {detail}".strip())

    def inconclusive(self, observed: float | None, samples: int, why: str) -> Finding:
        """A finding that cannot be judged although samples exist (e.g. a saturated generator)."""
        return Finding.of(self, observed, samples, Verdict.INCONCLUSIVE, why)

    def not_judged(self, why: str) -> Finding:
        """A hypothesis this run could not test at all, and why (e.g. it needs to own the stack)."""
        return Finding.of(self, None, 0, Verdict.NOT_JUDGED, why)


@dataclass(frozen=True)
class Finding:
    """A judged hypothesis; keeps the numbers so a reader can re-judge it."""

    key: str
    claim: str
    recommended: bool
    expected: str
    observed: float | None
    unit: str
    samples: int
    verdict: Verdict
    detail: str = ""

    @classmethod
    def of(cls, hypothesis: Hypothesis, observed: float | None, samples: int, verdict: Verdict, detail: str) -> Finding:
        return cls(
            key=hypothesis.key,
            claim=hypothesis.claim,
            recommended=hypothesis.recommended,
            expected=str(hypothesis.bound),
            observed=observed,
            unit=hypothesis.bound.unit,
            samples=samples,
            verdict=verdict,
            detail=detail,
        )

    @property
    def observed_text(self) -> str:
        return "—" if self.observed is None else f"{format_number(self.observed)} {self.unit}".strip()


def format_number(value: float) -> str:
    """A number as the papers print it: integers bare, three or four significant digits otherwise."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"
