"""The fault matrix: end real runs at chosen moments and count what each ending left behind.

Endings: SIGINT (Ctrl-C), SIGTERM (what `kill` and CI runners send), SIGKILL (a killed kernel:
nothing in the process can clean up) and an exception inside the run. Moments: while the stack
starts (PostgreSQL up and the service not yet; the service booting), while it serves, and during
an export (initdb running; the PostgreSQL server up, the app role not yet made; Gunicorn booting its
workers; the stack ready). Each trial runs in a child process tagged with its own ``DRILLS_RUN_TAG``, so what it
left is found by tag even with other runs on the machine. A trial left something when:

* a process of it still runs 10 s after the child ended (children die with their parent);
* a temp dir of it remains after the sweep that the next run performs (``drills clean``);
* its paper is not byte-identical to a complete export, or an export temp file remains after the
  next export.

``python -m drills.faults`` (part of ``make bench``) runs every cell ``--rounds`` times and prints
the table the README quotes; the tests run each cell once.
"""

from .export import EXPORT_MOMENT, export_trial, fake_run
from .kernel import KERNEL_MOMENT, kernel_trial
from .matrix import main, matrix, summary
from .stack import STACK_MOMENTS, stack_trial
from .trial import ENDINGS, GRACE_S, Trial

__all__ = ["ENDINGS", "EXPORT_MOMENT", "GRACE_S", "KERNEL_MOMENT", "STACK_MOMENTS", "Trial", "export_trial",
           "fake_run", "kernel_trial", "main", "matrix", "stack_trial", "summary"]
