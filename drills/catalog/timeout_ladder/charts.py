"""Charts of the timeout-ladder drill: latency against the injected delay, and work that outlived
the answer (deterministic PNGs: ``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ...charts import save_png
from ...findings import Chart
from .ladder import Ladder
from .observations import LadderRun, Observation
from .params import LadderParams

OUTCOME_COLOURS = {
    "ok": "#2ca02c",
    "database": "#1f77b4",
    "app": "#9467bd",
    "worker-timeout": "#e377c2",
    "pool": "#8c564b",
    "proxy-504": "#d62728",
    "proxy-502": "#ff7f0e",
    "client-timeout": "#7f7f7f",
}
PLACEMENT_MARKERS = {"db": "o", "app": "s", "split": "^", "await": "D", "block": "X", "query": "P"}
RUNG_LABELS = {"database": "statement_timeout", "app": "request budget", "proxy": "proxy read timeout",
               "client": "client timeout", "worker": "Gunicorn timeout (sync)"}


def draw(params: LadderParams, runs: Mapping[str, LadderRun], run_dir: Path) -> list[Chart]:
    """Draw every chart into ``run_dir``; return their descriptions for the findings."""
    observations = [o for run in runs.values() for o in run.observations]
    ladders = {name: params.ladder(name) for name in ("recommended", "inverted")}
    configs = [name for name in ("recommended", "inverted") if any(o.configuration == name for o in observations)]
    if not configs:
        return []
    charts = [
        _latency(observations, ladders, configs, run_dir),
        _outlived(observations, params, configs, run_dir),
    ]
    return charts


def _latency(observations: Sequence[Observation], ladders: Mapping[str, Ladder], configs: list[str],
             run_dir: Path) -> Chart:
    fig = Figure(figsize=(5.2 * len(configs), 4.2), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(configs), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, configs):
        ladder = ladders[name]
        rows = [o for o in observations if o.configuration == name]
        for outcome in sorted({o.outcome for o in rows}):
            for placement, marker in PLACEMENT_MARKERS.items():
                pts = [o for o in rows if o.outcome == outcome and o.placement == placement]
                if pts:
                    ax.scatter([o.delay_s for o in pts], [o.latency_s for o in pts], marker=marker, s=36,
                               color=OUTCOME_COLOURS.get(outcome, "#17becf"), alpha=0.8,
                               label=f"{outcome} ({placement})")
        for layer, timeout in ladder.rungs():
            ax.axhline(timeout, linestyle="--", linewidth=0.9, color="#555555")
            ax.annotate(f"{RUNG_LABELS[layer]} {timeout:g} s", (0.01, timeout), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(2, 2), fontsize=7, color="#333333")
        ax.set_title(f"{name} ladder")
        ax.set_xlabel("injected delay (s)")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=6.5, loc="upper right", title="who answered (delay in)", title_fontsize=7)
    axes[0].set_ylabel("client latency (s)")
    fig.suptitle("Client latency against injected delay, by the layer that answered", fontsize=10)
    path = run_dir / "latency.png"
    save_png(fig, path)
    return Chart("latency", path.name,
                 "Client latency against the injected delay; colour shows which layer answered, the marker "
                 "where the delay was placed, dashed lines the configured timeouts.")


def _outlived(observations: Sequence[Observation], params: LadderParams, configs: list[str], run_dir: Path) -> Chart:
    fig = Figure(figsize=(5.2 * len(configs), 3.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(configs), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, configs):
        rows = [o for o in observations if o.configuration == name]
        for placement, marker in PLACEMENT_MARKERS.items():
            pts = [o for o in rows if o.placement == placement and o.query_outlived_s is not None]
            if pts:
                ax.scatter([o.delay_s for o in pts], [o.query_outlived_s for o in pts], marker=marker, s=36,
                           alpha=0.8, label=f"query (delay in {placement})")
            hpts = [o for o in rows if o.placement == placement and o.handler_outlived_s is not None]
            if hpts:
                ax.scatter([o.delay_s for o in hpts], [o.handler_outlived_s for o in hpts], marker=marker, s=60,
                           facecolors="none", edgecolors="#444444", linewidths=0.7,
                           label=f"handler (delay in {placement})")
        ax.axhline(params.sample_interval_s, linestyle=":", color="#999999", linewidth=0.8)
        ax.set_title(f"{name} ladder")
        ax.set_xlabel("injected delay (s)")
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=6.5, loc="upper left")
    axes[0].set_ylabel("still running after the answer (s)")
    fig.suptitle("Work that outlived the client's answer (pg_stat_activity and the handler ledger)", fontsize=10)
    path = run_dir / "outlived.png"
    save_png(fig, path)
    return Chart("outlived", path.name,
                 "How long each query (filled, seen in pg_stat_activity) and handler (hollow) kept running after "
                 "the client had its answer; the dotted line is the sampling interval.")
