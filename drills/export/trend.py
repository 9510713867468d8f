"""The trend of a drill's headline figures over its last runs, from runs/history.jsonl."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ..charts import save_png
from ..history import HistoryEntry

VERDICT_COLOURS = {"held": "#2ca02c", "failed": "#d62728", "inconclusive": "#ff7f0e", "not judged": "#7f7f7f"}
LAST_RUNS = 10


def draw_trend(entries: Sequence[HistoryEntry], headlines: Sequence[str], path: Path) -> bool:
    """Draw the last runs' headline values (coloured by verdict) into ``path``; False if < 2 runs."""
    runs = list(entries)[-LAST_RUNS:]
    keys = [k for k in headlines if any(isinstance(r.headline.get(k), (int, float)) for r in runs)]
    if len(runs) < 2 or not keys:
        return False
    fig = Figure(figsize=(3.4 * len(keys), 2.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    labels = [r.finished_at[5:16].replace("T", " ") for r in runs]
    for ax, key in zip(axes, keys):
        xs = [i for i, r in enumerate(runs) if isinstance(r.headline.get(key), (int, float))]
        ys = [float(runs[i].headline[key] or 0.0) for i in xs]
        ax.plot(xs, ys, color="#999999", linewidth=0.8)
        ax.scatter(xs, ys, c=[VERDICT_COLOURS.get(runs[i].verdicts.get(key, ""), "#7f7f7f") for i in xs], s=24,
                   zorder=3)
        if min(ys) >= 0:
            ax.set_ylim(bottom=0, top=max(ys) * 1.15 or 1)  # on an absolute scale, a steady figure looks steady
        ax.set_title(key, fontsize=7)
        ax.set_xticks(range(len(runs)), labels, rotation=60, fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, linewidth=0.3)
    fig.suptitle("Headline figures over the last runs (green held, red failed, orange inconclusive)", fontsize=8)
    save_png(fig, path)
    return True
