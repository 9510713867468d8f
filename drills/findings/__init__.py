"""The findings model: hypotheses judged on measurements, and what a run leaves in its folder.

* ``verdicts`` — :class:`Hypothesis` with an explicit bound (:class:`AtMost`, :class:`AtLeast`,
  :class:`Within`), judged into a :class:`Finding` with a :class:`Verdict`;
* ``model`` — :class:`Findings`, everything one run produced (``findings.json``), with its
  :class:`Provenance` (with its :class:`ConstraintsCheck`), :class:`TargetInfo` and :class:`Chart` files;
* ``table`` — the Markdown tables every summary is shown in.
"""

from .model import FINDINGS_FILE, SCHEMA_VERSION, Chart, ConstraintsCheck, Findings, Provenance, TargetInfo
from .table import markdown_table
from .verdicts import AtLeast, AtMost, Bound, Finding, Hypothesis, Verdict, Within, format_number

__all__ = [
    "FINDINGS_FILE", "SCHEMA_VERSION", "AtLeast", "AtMost", "Bound", "Chart", "ConstraintsCheck", "Finding", "Findings",
    "Hypothesis", "Provenance", "TargetInfo", "Verdict", "Within", "format_number", "markdown_table",
]
