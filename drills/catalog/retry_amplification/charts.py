"""The retry-amplification drill's chart: attempts per request, retry arrivals, the storm (``drills.charts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure

from ...charts import save_png
from ...findings import Chart
from .observations import RetryRun, peak_to_mean
from .params import Params
from .storm import storm_series

COLOURS = {"recommended": "#2ca02c", "budget": "#2ca02c", "naive": "#d62728", "no-budget": "#d62728"}


def draw(params: Params, runs: Mapping[str, RetryRun], run_dir: Path) -> list[Chart]:
    if not runs:
        return []
    fig = Figure(figsize=(14.5, 3.8), dpi=100, layout="constrained")
    amplify, jitter, storm = fig.subplots(1, 3)
    for run in runs.values():
        colour = COLOURS.get(run.configuration, "#1f77b4")
        if run.run.endswith("-amplify") and run.executions is not None:
            by_tag = run.executions_by_tag()
            counts = [len(by_tag.get(t, [])) for t in run.tags("amplify")]
            amplify.bar([f"{run.configuration}\n{k + 1}" for k in range(len(counts))], counts, color=colour)
        elif run.run.endswith("-jitter") and run.executions is not None:
            failed = [a for a in run.of("jitter") if a.attempt == 1 and a.status is not None]
            retries = [e.started_at for e in run.executions if e.client_attempt == 2]
            if failed and retries:
                origin = min(a.answered_at for a in failed)
                _, counts = peak_to_mean(retries, origin, params.jitter_bin_s, params.jitter_bins)
                edges = [k * params.jitter_bin_s * 1000 for k in range(len(counts))]
                jitter.step(edges, counts, where="post", color=colour, label=run.configuration)
        elif run.of("storm"):
            _, sent, goodput, _ = storm_series(params, run)
            storm.plot(range(len(sent)), sent, color=colour, linestyle="--", label=f"{run.run}: attempts/s")
            storm.plot(range(len(goodput)), goodput, color=colour, label=f"{run.run}: goodput/s")
    amplify.axhline(params.naive_product, color="#7f7f7f", linewidth=0.8, linestyle=":")
    amplify.set(title="database attempts per client request (slow database)", ylabel="attempts (ledger)")
    amplify.tick_params(axis="x", labelsize=7)
    jitter.set(title="retries arriving after a shared failure", xlabel="ms after the first failure",
               ylabel=f"retries per {params.jitter_bin_s * 1000:.0f} ms")
    storm.axvspan(params.storm_pre_s, params.storm_pre_s + params.storm_fault_s, color="#ffbf00", alpha=0.2)
    storm.set(title="storm: the database slow in the shaded window", xlabel="s", ylabel="per second")
    for ax in (jitter, storm):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in (amplify, jitter, storm):
        ax.grid(True, linewidth=0.3)
    path = run_dir / "retries.png"
    save_png(fig, path)
    return [Chart("retries", path.name,
                  "Left: database attempts each client request caused while the database was slow (dotted: the "
                  "product of the naive layers' attempts). Middle: retries arriving after clients failed together, "
                  "with and without jitter. Right: attempts and goodput per second through the storm, with and "
                  "without a retry budget (green: recommended).")]
