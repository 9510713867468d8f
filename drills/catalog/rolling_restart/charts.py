"""The rolling-restart drill's chart: each rolling run's requests over time, with every restart's
moments marked (deterministic PNG: ``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure

from ...charts import save_png
from ...findings import Chart
from .judge import kind_of
from .observations import RollingRun
from .params import Params

MOMENTS = (("deleted_at", "deleted", "#7f7f7f"), ("dropped_live_at", "proxy dropped it", "#1f77b4"),
           ("sigterm_at", "SIGTERM", "#ff7f0e"), ("exited_at", "exited", "#d62728"),
           ("back_live_at", "back in the proxy", "#2ca02c"))


def draw(params: Params, runs: Mapping[str, RollingRun], run_dir: Path) -> list[Chart]:
    rolling = [run for run in runs.values() if run.kind == "rolling" and run.sent and run.restarts]
    if not rolling:
        return []
    fig = Figure(figsize=(13, 2.6 * len(rolling)), dpi=100, layout="constrained")
    axes = fig.subplots(len(rolling), 1, squeeze=False)[:, 0]
    for ax, run in zip(axes, rolling, strict=True):
        t0 = run.restarts[0].deleted_at
        ok = [s for s in run.sent if kind_of(s) == "ok"]
        bad = [s for s in run.sent if kind_of(s) != "ok"]
        failed_tags = {e.tag for e in run.failed_attempts()}
        resent = [s for s in ok if s["tag"] in failed_tags]
        ax.scatter([s["due_at"] - t0 for s in ok], [s["answered_at"] - s["sent_at"] for s in ok], s=4,
                   color="#7f7f7f", label="answered 2xx")
        if resent:
            ax.scatter([s["due_at"] - t0 for s in resent], [s["answered_at"] - s["sent_at"] for s in resent], s=30,
                       marker="o", facecolors="none", edgecolors="#9467bd", label="2xx after a failed attempt (resent)")
        if bad:
            ax.scatter([s["due_at"] - t0 for s in bad], [0.0] * len(bad), s=40, marker="x", color="#d62728",
                       label="client error")
        for r in run.restarts:
            for attr, label, colour in MOMENTS:
                ax.axvline(getattr(r, attr) - t0, color=colour, linewidth=0.8,
                           label=label if r is run.restarts[0] else None)
        ax.set(title=f"{run.run}: requests during the rolling restart", xlabel="seconds after the first deletion",
               ylabel="latency (s)")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=7, loc="upper right")
    path = run_dir / "rolling-restart.png"
    save_png(fig, path)
    return [Chart("rolling-restart", path.name,
                  "Each request of the steady load by when it was due, and how long it took; lines mark each "
                  "replica's deletion, the proxy's drop, SIGTERM, its exit and its return.")]
