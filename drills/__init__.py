"""Observability drills that verify the System Design Standards papers against real components.

The public names; everything else is reached through its module (``drills.stack``,
``drills.catalog``, ``drills.export``).
"""

from .errors import DrillsError, ParameterError
from .findings import Finding, Findings, Hypothesis, Verdict

__all__ = ["DrillsError", "Finding", "Findings", "Hypothesis", "ParameterError", "Verdict", "load_findings"]

__version__ = "0.1.0"


def load_findings(run_dir: str) -> Findings:
    """The findings a run left in ``run_dir`` (raises ExportError with what to do if unreadable)."""
    from pathlib import Path

    return Findings.load(Path(run_dir))
