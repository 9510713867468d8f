"""The Flask and Django pool drill's tables, as the paper and findings.json show them (the raw
observations are the FastAPI drill's: ``report.observations``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ....stats import span
from ..observations import Run, outcome
from ..report import steps_table
from ..steps import step_stats
from .params import FlaskPoolParams


def tables(params: FlaskPoolParams, runs: Mapping[str, Run]) -> dict[str, list[list[str]]]:
    out = {"capacity arithmetic": capacity_table(params)}
    if "recommended" in runs:
        out["saturation steps"] = steps_table(step_stats(runs["recommended"], params))
    if "gthread" in runs:
        out["exhaustion"] = exhaustion_table(params, runs["gthread"])
    return out


def capacity_table(params: FlaskPoolParams) -> list[list[str]]:
    return [
        ["quantity", "arithmetic", "value"],
        ["connection budget", f"workers × pool_max_size = {params.workers} × {params.pool_max_size}",
         f"{params.budget} (from {params.workers * params.pool_min_size} at boot)"],
        ["slots", f"workers × min(threads, pool_max_size) = {params.workers} × min({params.threads}, "
         f"{params.pool_max_size})", str(params.slots)],
        ["capacity (Little's law)", f"slots ÷ hold = {params.slots} ÷ {params.hold_s:g} s",
         f"{params.slots / params.hold_s:.0f} req/s"],
        ["pool 503 window", f"pool_timeout {params.pool_timeout_s:g} s − tolerance … + "
         f"{params.latency_tolerance_pct:g} % + tolerance",
         "{:.0f}–{:.0f} ms".format(*params.pool_503_window_ms())],
    ]


def exhaustion_table(params: FlaskPoolParams, run: Run) -> list[list[str]]:
    """How the gthread run's requests were answered, how many, and when (client latency)."""
    samples = run.load.samples
    ok = samples.status == 200
    pool = (samples.status == 503) & samples.named("error", "pool_timeout")
    proxy = (samples.status == 504) & samples.named("layer", "")
    kinds = [("200", ok), ("503 pool_timeout", pool), ("504 proxy", proxy), ("other", ~(ok | pool | proxy))]
    rows = [["answer", "count", "latency"]]
    for name, mask in kinds:
        rows.append([name, str(int(np.count_nonzero(mask))), span(samples.latency_ms[mask] / 1000)])
    rows.append(["all", str(len(samples)), ", ".join(f"{k} ×{v}" for k, v in samples.count_by(outcome).items())])
    return rows
