"""Trials that end the runner while its notebook kernel runs: no kernel, socket or connection file stays."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..stack.leftovers import sweep
from .trial import GRACE_S, INTERRUPTIBLE, Trial, end, reap, temp_entries, wait_for

#: A drill's notebook kernel started by the runner (sockets and connection file in a claimed dir).
KERNEL_MOMENT = "kernel"

# The child that holds a notebook kernel as `drills run` starts it (drills.execute.kernel), until ended.
_KERNEL_CHILD = r"""
import asyncio, signal, sys, time
from drills.execute.kernel import kernel_manager_class

signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
ending = sys.argv[1]

async def hold() -> None:
    manager = kernel_manager_class()(kernel_name="python3")
    await manager.start_kernel()
    try:
        print("ready", manager.claimed_dir, flush=True)
        if ending == "exception":
            raise RuntimeError("injected fault")
        await asyncio.sleep(120)
    finally:
        await manager.shutdown_kernel(now=True)

asyncio.run(hold())
"""


def kernel_trial(ending: str, timeout_s: float = 60.0) -> Trial:
    """Start a notebook kernel as the runner does, in a child, and end the child with ``ending``.

    What counts: the kernel process 10 s after (its command line names the claimed dir), and any
    drills temp entry, dir or file (a kernel's five sockets, its connection file), after the next
    run's sweep.
    """
    existing = temp_entries()
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + _KERNEL_CHILD, ending], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    trial = Trial(ending, KERNEL_MOMENT)
    claimed = ""
    try:
        line = child.stdout.readline().strip()  # type: ignore[union-attr]
        trial.on_moment = line.startswith("ready")
        claimed = line.split(" ", 1)[1] if trial.on_moment else ""
        if ending == "exception":
            child.wait(timeout=timeout_s)
        else:
            end(child, ending, timeout_s)
    finally:
        reap(child)
    _out, err = child.communicate()

    def kernel_processes() -> list[str]:
        return sorted(tagged_processes_in(claimed)) if claimed else []

    wait_for(lambda: not kernel_processes(), GRACE_S, 0.1)
    trial.processes_left = kernel_processes()
    new = temp_entries() - existing
    if new:
        trial.swept = len([line for line in sweep() if any(name in line for name in new)])
    time.sleep(0.5)
    left = temp_entries() - existing
    trial.dirs_left = sorted(n for n in left if (Path(tempfile.gettempdir()) / n).is_dir())
    trial.files_left = sorted(n for n in left if n not in trial.dirs_left)
    trial.detail = f"exit {child.returncode}" + (f"; {err.strip().splitlines()[-1]}" if err.strip() else "")
    return trial


def tagged_processes_in(directory: str) -> list[str]:
    """Command lines of the processes that name ``directory`` (a kernel names its connection file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if directory in cmdline:
                found.append(cmdline.strip())
    return found
