"""A trial of the fault matrix — one ending at one moment — and what every kind of trial shares."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..stack.leftovers import PREFIXES, owner_tag

ENDINGS = ("SIGINT", "SIGTERM", "SIGKILL", "exception")
#: First lines of every trial's child: Ctrl-C reaches a foreground process whose SIGINT raises
#: KeyboardInterrupt; a child of a background job (cron, `cmd &` in a script) inherits SIGINT
#: ignored, and then the trial's SIGINT would test nothing (seen: the whole SIGINT row failing).
INTERRUPTIBLE = "import signal as _signal\n_signal.signal(_signal.SIGINT, _signal.default_int_handler)\n"
#: Seconds a process of an ended run may take to go (the kernel delivers the parent-death signal
#: at once; PostgreSQL's fast shutdown and Gunicorn's graceful stop take a moment).
GRACE_S = 10.0


@dataclass
class Trial:
    """One ending at one moment, and what it left."""

    ending: str
    moment: str
    #: False when the ending landed outside the moment it aimed at (e.g. the stack was already up).
    on_moment: bool = True
    processes_left: list[str] = field(default_factory=list)
    dirs_left: list[str] = field(default_factory=list)
    files_left: list[str] = field(default_factory=list)
    #: Temp dirs or files a later run removed because this one could not (SIGKILL).
    swept: int = 0
    detail: str = ""

    @property
    def clean(self) -> bool:
        return not (self.processes_left or self.dirs_left or self.files_left)


def tagged_dirs(tag: str) -> list[str]:
    root = Path(tempfile.gettempdir())
    return sorted(p.name for p in root.iterdir() if p.name.startswith(PREFIXES) and owner_tag(p) == tag)


def stack_dirs() -> set[str]:
    """Every stack temp dir on this machine now (a trial's new ones are the difference)."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(PREFIXES)}


def temp_entries() -> set[str]:
    """Every drills temp entry, dir or file (a kernel's sockets are files), on this machine now."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith("drills-")}


def wait_for(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def end(child: subprocess.Popen[str], ending: str, timeout_s: float) -> None:
    child.send_signal(getattr(signal, ending))
    child.wait(timeout=timeout_s)


def reap(child: subprocess.Popen[str]) -> None:
    """The trial itself must not leak its child, whatever went wrong."""
    if child.poll() is None:
        child.kill()
        child.wait()
