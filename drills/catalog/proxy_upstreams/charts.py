"""The proxy-upstreams drill's chart: one panel per mechanism (deterministic PNG: ``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ...charts import save_png
from ...findings import Chart
from .observations import UpstreamRun
from .params import Params

COLOURS = {"recommended": "#2ca02c", "keepalive-inverted": "#d62728", "retry-timeout": "#d62728",
           "max-fails-1": "#d62728"}


def draw(params: Params, runs: Mapping[str, UpstreamRun], run_dir: Path) -> list[Chart]:
    if not runs:
        return []
    fig = Figure(figsize=(14.5, 3.8), dpi=100, layout="constrained")
    ka, retry, eject = fig.subplots(1, 3)
    for run in runs.values():
        colour = COLOURS.get(run.configuration, "#1f77b4")
        if run.kind == "keepalive":
            stale = run.stale_tags()
            paced = [r for r in run.of("paced") if r.burst > 0]
            ka.scatter([r.aim_ms for r in paced], [r.burst for r in paced], s=8, color=colour, alpha=0.4,
                       label=f"{run.configuration}: GET")
            hit = [r for r in paced if r.tag in stale]
            if hit:
                ka.scatter([r.aim_ms for r in hit], [r.burst for r in hit], s=60, marker="x", color="#000000",
                           label=f"{run.configuration}: met a closed connection")
        elif run.kind == "retry" and run.executions is not None:
            counts = [len(run.executions.get(r.tag, [])) for r in run.of("slow")]
            retry.bar([f"{run.configuration}\nGET {k + 1}" for k in range(len(counts))], counts, color=colour)
        elif run.kind == "eject":
            probes = run.of("probe")
            eject.plot(range(1, len(probes) + 1), [r.latency_s * 1000 for r in probes], marker="o", color=colour,
                       label=f"{run.configuration}: " + ", ".join(sorted({r.outcome for r in probes})))
    ka.set(title="keep-alive: bursts aimed at the backend's close", xlabel="aimed after expiry (ms)", ylabel="burst")
    retry.set(title="retry: executions of each slow GET", ylabel="handler executions (ledger)")
    eject.set(title="ejection: probes after one timeout per replica", xlabel="probe", ylabel="latency (ms)")
    for ax in (ka, eject):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    retry.tick_params(axis="x", labelsize=7)
    retry.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ka, retry, eject):
        ax.grid(True, linewidth=0.3)
    path = run_dir / "upstreams.png"
    save_png(fig, path)
    return [Chart("upstreams", path.name,
                  "Left: keep-alive bursts (crosses met an upstream connection the backend had closed). Middle: how "
                  "often the service ran each slow GET. Right: the probes after the slow GETs (green: recommended).")]
