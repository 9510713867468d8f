"""Charts of the load-capacity drill: the knee, and the overload with and without shedding
(deterministic PNGs: ``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ...charts import save_png
from ...findings import Chart
from .params import Params
from .steps import Measured, Step, locate_knee, steps_of


def draw(params: Params, runs: Mapping[str, Measured], run_dir: Path) -> list[Chart]:
    """Draw every chart the runs allow into ``run_dir``; return their descriptions for the findings."""
    steps = steps_of(runs["recommended"], params) if "recommended" in runs else []
    charts = []
    if steps:
        charts.append(_knee(params, steps, run_dir))
    if "shedding" in runs and "no-shedding" in runs:
        charts.append(_shedding(params, runs, run_dir))
    return charts


def _knee(params: Params, steps: list[Step], run_dir: Path) -> Chart:
    fig = Figure(figsize=(10.4, 4.0), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2, sharex=True)
    rates = [s.rate for s in steps]
    left.plot(rates, rates, linestyle="--", color="#999999", label="offered")
    left.plot(rates, [s.throughput_ok for s in steps], marker="o", color="#1f77b4", label="served (200s/s)")
    left.axhline(params.capacity_rps, linestyle=":", color="#d62728",
                 label=f"Little's-law capacity {params.capacity_rps:.0f}/s")
    left.set_xlabel("offered rate (requests/s)")
    left.set_ylabel("throughput (requests/s)")
    left.set_title("Throughput against offered load")
    for key, colour in (("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728")):
        right.plot(rates, [getattr(s, key) for s in steps], marker="o", color=colour, label=key.replace("_ms", ""))
    right.axhline(params.slo_p99_ms, linestyle=":", color="#555555", label=f"SLO p99 {params.slo_p99_ms:g} ms")
    right.set_yscale("log")
    right.set_xlabel("offered rate (requests/s)")
    right.set_ylabel("latency (ms, log; raw samples, all answers)")
    right.set_title("Latency percentiles against offered load")
    k = locate_knee(steps, params.slo_p99_ms)
    lo, hi = params.knee_band
    for ax in (left, right):
        ax.axvspan(lo, hi, color="#9467bd", alpha=0.08, label=f"knee band {lo:.0f}–{hi:.0f}/s")
        if k is not None:
            ax.axvline(k.rate, color="#9467bd", linewidth=1.2, label=f"knee {k.rate:.0f}/s")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=7, loc="upper left")
    path = run_dir / "knee.png"
    save_png(fig, path)
    return Chart("knee", path.name,
                 "Served throughput and latency percentiles (raw samples) against the offered rate; the knee is "
                 "where the p99 crosses the SLO (interpolated between steps), the band where it must lie.")


def _shedding(params: Params, runs: Mapping[str, Measured], run_dir: Path) -> Chart:
    fig = Figure(figsize=(10.4, 3.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name in zip(axes, ("no-shedding", "shedding")):
        done = runs[name].load.step_samples(0, skip_s=params.warmup_s)
        for label, colour, pick in (("200 (admitted)", "#1f77b4", done.status == 200),
                                    ("503 (shed or timed out)", "#d62728", done.status == 503),
                                    ("other (504, reset, …)", "#7f7f7f", (done.status != 200) & (done.status != 503))):
            values = np.sort(done.latency_ms[pick])
            if len(values):
                ax.step(values, (np.arange(len(values)) + 1) / len(done), where="post", color=colour,
                        label=f"{label}: {len(values)}")
        ax.axvline(params.slo_p99_ms, linestyle=":", color="#555555", label=f"SLO {params.slo_p99_ms:g} ms")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log)")
        ax.set_title(f"{name}: {params.overload_rate:g} req/s offered")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("cumulative share of all requests")
    path = run_dir / "shedding.png"
    save_png(fig, path)
    return Chart("shedding", path.name,
                 "The same overload without and with a bounded pool queue: cumulative latency of admitted requests "
                 "and of 503s, as a share of all requests.")
