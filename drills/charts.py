"""What every chart shares: matplotlib's object API (no pyplot state, any backend) and deterministic
PNGs — fixed size and dpi, and no software or timestamp in the metadata — so that re-exporting a run
changes no byte of a paper's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

#: Leaves out the "Software" text chunk (matplotlib's version), which would differ between machines.
PNG_METADATA: dict[str, Any] = {"Software": None}


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a deterministic PNG; return the path."""
    fig.savefig(path, metadata=PNG_METADATA)
    return path
