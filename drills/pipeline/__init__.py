"""The pipeline every drill runs through: its spec, the one run loop, and what changes on a target.

* ``spec`` — :class:`DrillSpec` (a drill, declared), :class:`Configuration`, :class:`Measuring`;
* ``loop`` — :func:`run_drill`: deployment, read-back, measuring, judging, findings, history;
* ``targets`` — opening the deployment, the checks and restrictions for a target, :class:`RateCap`.
"""

from .loop import PARTIAL_FILE, run_drill
from .spec import Configuration, DrillSpec, Measuring, Progress, print_progress
from .targets import RateCap

__all__ = ["PARTIAL_FILE", "Configuration", "DrillSpec", "Measuring", "Progress", "RateCap", "print_progress",
           "run_drill"]
