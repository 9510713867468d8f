"""The load-capacity drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...stats import interval_cell, percentile
from .params import Params
from .steps import Measured, Step, knee, steps_of


def tables(params: Params, runs: Mapping[str, Measured]) -> dict[str, list[list[str]]]:
    """The step load (one row per offered rate, the knee marked) and the overload with and without shedding."""
    steps = steps_of(runs["recommended"], params) if "recommended" in runs else []
    return {"step load": steps_table(steps, params), "overload": overload_table(runs, params)}


def observations(runs: Mapping[str, Measured]) -> list[dict[str, Any]]:
    """Per Locust run: its rates, the generator's and the service's CPU, Locust's warnings, its sample
    count (the samples themselves are in the run folder's samples.parquet, by run)."""
    return [{"run": m.name, "rates": m.rates, "locust_cpu_pct": m.load.step_cpu_pct,
             "service_cpu_pct": m.service_cpu_pct, "locust_warnings": m.load.warnings,
             "samples": len(m.load.samples)} for m in runs.values()]


def steps_table(steps: list[Step], params: Params) -> list[list[str]]:
    """One row per step; "knee" marks the last step within the SLO (the knee lies between it and the next)."""
    k = knee(steps, params.slo_p99_ms)
    rows = [["offered /s", "sent /s", "served 200/s", "p50 ms", "p95 ms", "p99 ms (95 % interval)",
             "mean ms client (service)",
             "errors %", "in flight (service)", "λW (client)", "± %", "service CPU %", "Locust CPU %", ""]]
    for s in steps:
        rows.append([f"{s.rate:g}", f"{s.sent_rps:.1f}", f"{s.throughput_ok:.1f}", f"{s.p50_ms:.0f}",
                     f"{s.p95_ms:.0f}", s.p99_cell, f"{s.mean_ms:.0f} ({s.service_mean_ms:.0f})",
                     f"{s.error_pct:.1f}", f"{s.in_flight:.2f}", f"{s.client_in_flight:.2f}",
                     f"{s.littles_se_pct:.1f}", f"{s.service_cpu_pct:.0f}",
                     f"{s.locust_cpu_pct:.0f}", "knee" if k is s else ""])
    return rows


def overload_table(runs: Mapping[str, Measured], params: Params) -> list[list[str]]:
    rows = [["run", "offered /s", "served 200/s", "fast 503/s", "other non-200/s", "not served %",
             "p50 ms (all)", "p99 ms (all, 95 % interval)", "p99 ms (admitted, 95 % interval)", "Locust CPU %"]]
    for name in ("no-shedding", "shedding"):
        m = runs.get(name)
        if m is None:
            continue
        done = m.load.step_samples(0, skip_s=params.warmup_s)
        window = m.load.plan.steps[0].duration_s - params.warmup_s
        ok = done.latency_ms[done.status == 200]
        fast = int(np.count_nonzero((done.status == 503) & (done.latency_ms <= params.fast_ms)))
        rows.append([name, f"{params.overload_rate:g}", f"{len(ok) / window:.1f}", f"{fast / window:.1f}",
                     f"{(len(done) - len(ok) - fast) / window:.1f}",
                     f"{100 * (len(done) - len(ok)) / len(done):.0f}" if len(done) else "–",
                     f"{percentile(done.latency_ms, 50):.0f}",
                     interval_cell(done.latency_ms, 99), interval_cell(ok, 99),
                     f"{m.load.step_cpu_pct[0]:.0f}"])
    return rows
