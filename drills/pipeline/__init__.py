"""The pipeline every drill runs through: its spec, the one run loop, and what changes on a target.

* ``spec`` — :class:`DrillSpec` (a drill, declared), :class:`Configuration`, :class:`Measuring`;
* ``loop`` — :func:`run_drill`: deployment, read-back, measuring, judging, findings, history;
* ``targets`` — opening the deployment, the checks and restrictions for a target, :class:`RateCap`;
* ``falsify`` — :class:`Falsifier` (a harmful stack under which a hypothesis must fail) and what
  running them found (:class:`Falsification`); ``loop.falsify_drill`` runs them.
"""

from .falsify import FALSIFICATION_FILE, Catch, Falsification, Falsifier
from .loop import FALSIFIERS_DIR, PARTIAL_FILE, falsify_drill, run_drill
from .spec import Configuration, DrillSpec, Measuring, Progress, print_progress
from .targets import RateCap

__all__ = ["FALSIFICATION_FILE", "FALSIFIERS_DIR", "PARTIAL_FILE", "Catch", "Configuration", "DrillSpec",
           "Falsification", "Falsifier", "Measuring", "Progress", "RateCap", "falsify_drill", "print_progress",
           "run_drill"]
