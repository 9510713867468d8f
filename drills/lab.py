"""``make lab``: JupyterLab on the project, opening at notebooks/, on the notebooks' own kernel.

The server's root is the project, not notebooks/, so the notebooks' links to ``../papers/`` open the
papers; it opens at notebooks/ (``/lab/tree/notebooks``). Before it starts, the "Python (drills)"
kernel the notebooks name is registered for this interpreter (``drills.execute.ensure_kernel``).

    python -m drills.lab [JupyterLab's own options …]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .paths import project_root

#: Where JupyterLab opens: the file browser at notebooks/ (drills.paths.notebooks_dir, under the root).
OPEN_AT = "/lab/tree/notebooks"


def lab_argv(extra: Sequence[str] = ()) -> list[str]:
    """The command that starts JupyterLab on this project (``extra``: LAB_ARGS, passed through)."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={project_root()}",
            f"--LabApp.default_url={OPEN_AT}", *extra]


def main(argv: Sequence[str] | None = None) -> None:
    from .execute import KERNEL, KERNEL_DISPLAY_NAME, ensure_kernel

    print(f"kernel {KERNEL} ({KERNEL_DISPLAY_NAME}, {sys.executable}): {ensure_kernel()}", flush=True)
    command = lab_argv(sys.argv[1:] if argv is None else argv)
    os.execv(command[0], command)  # noqa: S606 - JupyterLab in this process: Ctrl-C and SIGTERM reach it


if __name__ == "__main__":
    main()
