"""Executing drills' notebooks: papermill into run folders, on a kernel the runner can stop.

* ``notebook`` — :func:`run_notebook` (papermill, time limit, HTML report) and :class:`RunResult`;
* ``kernel`` — the IPC kernel in a claimed temp dir, and stopping it when the runner is interrupted;
* ``rundirs`` — where runs go (``runs/<ts>-<drill>/``, ``runs/<ts>/<drill>/``).
"""

from .kernel import KERNEL, KERNEL_DISPLAY_NAME, ensure_kernel
from .notebook import RunResult, run_notebook
from .rundirs import new_run_dir, new_verify_dir, prepare_run_dir

__all__ = ["KERNEL", "KERNEL_DISPLAY_NAME", "RunResult", "ensure_kernel",
           "new_run_dir", "new_verify_dir", "prepare_run_dir", "run_notebook"]
