"""Judging the storm: does a retry budget cap the extra load while the database is slow, and does
the overload end with its trigger, with the budget and without it?"""

from __future__ import annotations

import math

from ...findings import AtLeast, AtMost, Finding, Hypothesis
from .observations import RetryRun, per_second, recovery_s
from .params import Params


def storm_series(params: Params, run: RetryRun) -> tuple[list[int], list[int], list[int], int]:
    """Per second of the storm: first attempts sent, all attempts sent, goodput (a 200 in time, by
    the second the caller's request was first sent); and the second the fault ended."""
    seconds = math.ceil(params.storm_s)
    storm = run.of("storm")
    first_sent = {a.tag: a.sent_at for a in storm if a.attempt == 1}
    good = {a.tag for a in storm if a.status == 200 and a.latency_s <= params.storm_client_timeout_s}
    offered = per_second(list(first_sent.values()), run.started_at, seconds)
    sent = per_second([a.sent_at for a in storm], run.started_at, seconds)
    goodput = per_second([first_sent[t] for t in good if t in first_sent], run.started_at, seconds)
    return offered, sent, goodput, math.ceil(run.fault_until - run.started_at)


def _storm_detail(params: Params, run: RetryRun, recovered: float | None) -> str:
    offered, sent, goodput, end = storm_series(params, run)
    return (f"per second: first attempts {offered}, all attempts {sent}, goodput {goodput}; fault from "
            f"{run.fault_from - run.started_at:.1f} s to {end} s; recovered "
            f"{'never within the run' if recovered is None else f'{recovered:g} s after the fault'}")


def _recovery(params: Params, run: RetryRun) -> float | None:
    offered, _, goodput, end = storm_series(params, run)
    return recovery_s([float(g) for g in goodput], [float(o) for o in offered], end,
                      params.recovery_goodput_pct / 100, math.ceil(params.recovery_hold_s))


def _overloaded(params: Params, run: RetryRun) -> str | None:
    """The storm's premise: the fault made requests fail."""
    storm = run.of("storm")
    in_fault = [a for a in storm if run.fault_from <= a.sent_at < run.fault_until and a.attempt == 1]
    failed = sum(not (a.status == 200 and a.latency_s <= params.storm_client_timeout_s) for a in in_fault)
    if not in_fault or failed < 0.5 * len(in_fault):
        return (f"the premise did not hold: {failed}/{len(in_fault)} first attempts during the fault failed; "
                "the fault did not overload the replica")
    return None


def judge_storm(params: Params, with_budget: RetryRun | None, without: RetryRun | None) -> list[Finding]:
    capped = Hypothesis(
        "budget.extra-load-capped",
        f"While the database is slow, a retry budget of {params.budget_ratio:.0%} (burst {params.budget_burst}) caps "
        "the retries the caller adds to its first attempts.",
        AtMost(params.budget_ratio * 100 + 2, "% extra"), recommended=True, min_samples=50)
    recovers = Hypothesis(
        "budget.recovers",
        "With the budget, the service recovers soon after the fault clears: goodput returns to the offered load.",
        AtMost(params.recovery_limit_s, "s"), recommended=True, min_samples=1)
    outlasts = Hypothesis(
        "no-budget.overload-outlasts-trigger",
        "Without a budget, retries keep the service overloaded after the fault has cleared (a metastable "
        "failure): goodput does not return within the run.",
        AtLeast(params.storm_post_s - params.recovery_hold_s, "s"), recommended=False, min_samples=1)
    out: list[Finding] = []
    if with_budget is None:
        out += [capped.judge(None, 0, "not measured"), recovers.judge(None, 0, "not measured")]
    elif (why := _overloaded(params, with_budget)) is not None:
        n = len(with_budget.of("storm"))
        out += [capped.inconclusive(None, n, why), recovers.inconclusive(None, n, why)]
    else:
        out += [_extra_load(params, capped, with_budget), _recovered(params, recovers, with_budget)]
    if without is None:
        out.append(outlasts.judge(None, 0, "not measured"))
    elif (why := _overloaded(params, without)) is not None:
        out.append(outlasts.inconclusive(None, len(without.of("storm")), why))
    else:
        out.append(_recovered(params, outlasts, without))
    return out


def _extra_load(params: Params, hypothesis: Hypothesis, run: RetryRun) -> Finding:
    window = [a for a in run.of("storm") if a.sent_at >= run.fault_from]
    firsts = sum(a.attempt == 1 for a in window)
    retries = len(window) - firsts
    # The bucket starts full: its burst is spent on top of the ratio, once.
    extra_pct = 100 * max(0, retries - params.budget_burst) / firsts if firsts else math.nan
    return hypothesis.judge(extra_pct, firsts,
                            f"{retries} retries on {firsts} first attempts from the fault on ({params.budget_burst} "
                            f"of them the bucket's burst); {_storm_detail(params, run, _recovery(params, run))}")


def _recovered(params: Params, hypothesis: Hypothesis, run: RetryRun) -> Finding:
    recovered = _recovery(params, run)
    offered, _, _, end = storm_series(params, run)
    # Never recovered: censored at the seconds left after the fault (shown as such in the detail).
    value = float(len(offered) - end) if recovered is None else recovered
    return hypothesis.judge(value, len(offered) - end, _storm_detail(params, run, recovered))
