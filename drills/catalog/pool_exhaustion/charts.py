"""Charts of the pool-exhaustion drill: throughput and latency against concurrency, and the pool's
queue through the saturation run (deterministic PNGs: ``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure

from ...charts import save_png
from ...findings import Chart
from .observations import Run
from .params import Params
from .steps import StepStats, recommended_steps


def draw(params: Params, runs: Mapping[str, Run], run_dir: Path) -> list[Chart]:
    """Draw every chart into ``run_dir``; return their descriptions for the findings."""
    stats = recommended_steps(params, runs)
    if "recommended" not in runs or not stats:
        return []
    return [_saturation(params, stats, run_dir), _timeline(params, runs["recommended"], run_dir)]


def _saturation(params: Params, stats: list[StepStats], run_dir: Path) -> Chart:
    fig = Figure(figsize=(10.4, 4.0), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2)
    users = [s.users for s in stats]
    left.plot(users, [s.throughput_ok for s in stats], marker="o", color="#1f77b4", label="measured (200s/s)")
    ideal = [min(u / params.hold_s, params.capacity_rps) for u in users]
    left.plot(users, ideal, linestyle="--", color="#555555", label="Little's law: min(N ÷ hold, slots ÷ hold)")
    left.axhline(params.capacity_rps, linestyle=":", color="#d62728",
                 label=f"capacity {params.capacity_rps:.0f}/s ({params.slots} slots ÷ {params.hold_s:g} s)")
    left.axvline(params.slots, linestyle=":", color="#999999")
    left.set_xscale("log", base=2)
    left.set_xlabel("closed-loop users (log scale)")
    left.set_ylabel("throughput (requests/s)")
    left.set_title("Throughput against concurrency")
    left.legend(fontsize=7, loc="lower right")
    left.grid(True, linewidth=0.3)
    for key, colour in (("mean_ms", "#9467bd"), ("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728")):
        right.plot(users, [getattr(s, key) for s in stats], marker="o", color=colour, label=key.replace("_ms", ""))
    right.plot(users, [params.predicted_latency_s(u) * 1000 for u in users], linestyle="--", color="#555555",
               label="queue model: hold × max(1, N ÷ slots)")
    right.axhline(params.pool_timeout_s * 1000, linestyle=":", color="#8c564b",
                  label=f"pool timeout {params.pool_timeout_s:g} s")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("closed-loop users (log scale)")
    right.set_ylabel("latency of 200s (ms, log scale; raw samples)")
    right.set_title("Latency percentiles against concurrency")
    right.legend(fontsize=7, loc="upper left")
    right.grid(True, linewidth=0.3)
    path = run_dir / "saturation.png"
    save_png(fig, path)
    return Chart("saturation", path.name,
                 "Throughput and latency percentiles (from raw samples) against closed-loop users, with the "
                 "capacity Little's law predicts and the pool's wait timeout.")


def _timeline(params: Params, run: Run, run_dir: Path) -> Chart:
    fig = Figure(figsize=(10.4, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    t0 = run.load.started_s
    times = [r.at_s - t0 for r in run.readings]
    ax.plot(times, [r.waiting for r in run.readings], color="#d62728", label="pool: requests waiting (all workers)")
    ax.plot(times, [r.server_total for r in run.readings], color="#1f77b4", label="server: app connections")
    ax.plot(times, [r.server_by_state.get("active", 0) for r in run.readings], color="#17becf", linestyle="--",
            label="server: active")
    ax.axhline(params.slots, linestyle=":", color="#555555", label=f"workers × max_size = {params.slots}")
    for (start, _end), users in zip(run.load.step_bounds(), run.users):
        ax.axvline(start - t0, color="#cccccc", linewidth=0.8)
        ax.annotate(f"{users} users", (start - t0, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    xytext=(2, -10), textcoords="offset points")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("count (symlog)")
    ax.set_title("Pool queue and server connections through the saturation run")
    ax.legend(fontsize=7, loc="center left")
    ax.grid(True, linewidth=0.3)
    path = run_dir / "pool-timeline.png"
    save_png(fig, path)
    return Chart("pool-timeline", path.name,
                 "Requests waiting in the pools (summed over every worker, from /metrics) and the app's "
                 "server connections by state (pg_stat_activity), sampled through the run; grey lines mark steps.")
